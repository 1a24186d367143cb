// What devices send, built exactly as docs/protocol.md describes (and as the golden fixtures in
// tests/fixtures/payloads hold: the hub's parser is tested with the same files).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiosk_json.h"
#include "kiosk_stall.h"

namespace kiosk {

// "devices/{id}/{leaf}" (prefix "devices") or "device/{id}/{leaf}" (prefix "device"); false if it does not fit.
bool topic(char* out, size_t capacity, const char* prefix, const char* deviceId, const char* leaf);

// A reading's id: "b{boot}-{seq}" (boot counted in the board's settings, seq since this boot).
void readingId(char* out, size_t capacity, uint32_t boot, uint32_t seq);

// A stall reading. `epochMs` 0 leaves out "ts" (a live reading: the hub stamps it); otherwise the reading's own
// time, for a reading sent later from the offline buffer.
bool stallReading(JsonWriter& out, const StallSample& sample, uint32_t boot, uint64_t epochMs);

struct Facts {           // what a heartbeat and the online status say about the board
  uint32_t uptimeS = 0;
  int16_t rssi = 0;      // dBm; 0 = unknown (left out)
  const char* firmware = "";
  const char* ip = "";
  const char* mac = "";  // "A4:CF:12:B3:C4:D5"
  uint32_t freeHeap = 0; // bytes; 0 = unknown
};

bool heartbeat(JsonWriter& out, const Facts& facts);      // device/{id}/status, at a steady interval
bool onlineStatus(JsonWriter& out, const Facts& facts);   // devices/{id}/status, retained, after each login
extern const char kOfflineStatus[];                       // the last will: {"status":"offline"}, retained

bool ack(JsonWriter& out, const char* commandId, bool ok, const char* detail);
// An OTA report; percent < 0 leaves it out, detail "" too.
bool progress(JsonWriter& out, const char* state, const char* version, int8_t percent, const char* detail);
bool logLine(JsonWriter& out, const char* level, const char* message);

// --- USB serial (energy boards) ------------------------------------------------------------------------------------

struct EnergyReading {
  uint8_t channel = 0;  // 1..4; 0 on a board with one channel (no "port" then)
  float volts = 0;
  float amps = 0;
  float watts = 0;
  uint32_t seq = 0;     // counts lines since start: the hub counts the gaps as lost lines
};

bool energyLine(JsonWriter& out, const EnergyReading& reading);
// Channel `index` (0-based) of `channels` measured as volts, amps, watts, as the line's reading: `port` is left out
// on a board with one channel.
EnergyReading energyReading(uint8_t index, uint8_t channels, float volts, float amps, float watts, uint32_t seq);
// {"hello":"kiosk-energy","board":..,"firmware":..,"channels":N,"noise_a":[..]}: sent once at start, with each
// channel's RMS current over its first second (the noise floor where nothing is switched on yet).
bool helloLine(JsonWriter& out, const char* board, const char* firmware, uint8_t channels, const float* noiseAmps);

}  // namespace kiosk
