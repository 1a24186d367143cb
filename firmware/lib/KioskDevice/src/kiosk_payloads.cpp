#include "kiosk_payloads.h"

#include <string.h>

namespace kiosk {

const char kOfflineStatus[] = "{\"status\":\"offline\"}";

namespace {

// Appends `text` at `out + at` if it fits (with the NUL); false otherwise.
bool append(char* out, size_t capacity, size_t& at, const char* text) {
  size_t n = strlen(text);
  if (at + n + 1 > capacity) return false;
  memcpy(out + at, text, n + 1);
  at += n;
  return true;
}

}  // namespace

bool topic(char* out, size_t capacity, const char* prefix, const char* deviceId, const char* leaf) {
  size_t at = 0;
  bool fits = append(out, capacity, at, prefix) && append(out, capacity, at, "/") &&
              append(out, capacity, at, deviceId) && append(out, capacity, at, "/") && append(out, capacity, at, leaf);
  if (!fits && capacity) out[0] = '\0';
  return fits;
}

void readingId(char* out, size_t capacity, uint32_t boot, uint32_t seq) {
  char number[11];
  size_t at = 0;
  out[0] = '\0';
  decimal(boot, number);
  bool fits = append(out, capacity, at, "b") && append(out, capacity, at, number);
  decimal(seq, number);
  fits = fits && append(out, capacity, at, "-") && append(out, capacity, at, number);
  if (!fits && capacity) out[0] = '\0';
}

bool stallReading(JsonWriter& out, const StallSample& sample, uint32_t boot, uint64_t epochMs) {
  char id[24];
  readingId(id, sizeof(id), boot, sample.seq);
  out.open();
  if (sample.hasDoor) out.key("door").string(sample.doorClosed ? "closed" : "open");
  if (sample.hasThermal) out.key("thermal").boolean(sample.thermal);
  if (epochMs) out.key("ts").bigInteger(epochMs);
  out.key("seq").string(id);
  out.close();
  return out.ok() && (sample.hasDoor || sample.hasThermal);
}

bool heartbeat(JsonWriter& out, const Facts& facts) {
  out.open().key("uptime").unsignedInteger(facts.uptimeS);
  if (facts.rssi) out.key("rssi").integer(facts.rssi);
  if (*facts.firmware) out.key("fw").string(facts.firmware);
  if (*facts.ip) out.key("ip").string(facts.ip);
  if (*facts.mac) out.key("mac").string(facts.mac);
  if (facts.freeHeap) out.key("heap").unsignedInteger(facts.freeHeap);
  out.close();
  return out.ok();
}

bool onlineStatus(JsonWriter& out, const Facts& facts) {
  out.open().key("status").string("online").key("metadata").open();
  if (*facts.firmware) out.key("firmware").string(facts.firmware);
  if (*facts.ip) out.key("ip").string(facts.ip);
  if (*facts.mac) out.key("mac").string(facts.mac);
  if (facts.rssi) out.key("signal").integer(facts.rssi);
  out.key("uptime").unsignedInteger(facts.uptimeS);
  out.close().close();
  return out.ok();
}

bool ack(JsonWriter& out, const char* commandId, bool ok, const char* detail) {
  out.open().key("id").string(commandId).key("ok").boolean(ok);
  if (detail && *detail) out.key("detail").string(detail);
  out.close();
  return out.ok();
}

bool progress(JsonWriter& out, const char* state, const char* version, int8_t percent, const char* detail) {
  out.open().key("state").string(state).key("version").string(version);
  if (percent >= 0) out.key("percent").integer(percent);
  if (detail && *detail) out.key("detail").string(detail);
  out.close();
  return out.ok();
}

bool logLine(JsonWriter& out, const char* level, const char* message) {
  out.open().key("level").string(level).key("message").string(message).close();
  return out.ok();
}

bool energyLine(JsonWriter& out, const EnergyReading& reading) {
  out.open();
  if (reading.channel) {
    char port[4];
    decimal(reading.channel, port);
    out.key("port").string(port);
  }
  out.key("voltage").fixed(reading.volts, 1).key("current").fixed(reading.amps, 3);
  out.key("power").fixed(reading.watts, 2).key("seq").unsignedInteger(reading.seq).close();
  return out.ok();
}

EnergyReading energyReading(uint8_t index, uint8_t channels, float volts, float amps, float watts, uint32_t seq) {
  EnergyReading reading;
  reading.channel = channels > 1 ? static_cast<uint8_t>(index + 1) : 0;
  reading.volts = volts;
  reading.amps = amps;
  reading.watts = watts;
  reading.seq = seq;
  return reading;
}

bool helloLine(JsonWriter& out, const char* board, const char* firmware, uint8_t channels, const float* noiseAmps) {
  out.open().key("hello").string("kiosk-energy").key("board").string(board).key("firmware").string(firmware);
  out.key("channels").unsignedInteger(channels);
  if (noiseAmps) {
    out.key("noise_a").openArray();
    for (uint8_t i = 0; i < channels; ++i) out.fixed(noiseAmps[i], 3);
    out.closeArray();
  }
  out.close();
  return out.ok();
}

}  // namespace kiosk
