#include "kiosk_provision.h"

#include <string.h>

#include "kiosk_json.h"

namespace kiosk {

namespace {

bool refuse(char* answer, size_t capacity, const char* why) {
  JsonWriter out(answer, capacity);
  out.open().key("ok").boolean(false).key("error").string(why).close();
  return false;
}

// A text field: absent is fine (nothing changes), present must be text that fits.
enum class Field { Absent, Set, Bad };

Field textField(const JsonReader& reader, const char* key, char* into, size_t capacity, size_t minimum) {
  JsonValue value = reader.find(key);
  if (value.type == JsonType::Missing) return Field::Absent;
  char scratch[100];
  if (capacity > sizeof(scratch) || !JsonReader::text(value, scratch, capacity) || strlen(scratch) < minimum) {
    return Field::Bad;
  }
  strcpy(into, scratch);
  return Field::Set;
}

bool numberField(const JsonReader& reader, const char* key, uint32_t low, uint32_t high, uint32_t& out, bool& bad) {
  JsonValue value = reader.find(key);
  if (value.type == JsonType::Missing) return false;
  if (!JsonReader::whole(value, out) || out < low || out > high) {
    bad = true;
    return false;
  }
  return true;
}

bool printable(const char* text) {
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(text); *p; ++p) {
    if (*p < 0x21 || *p == 0x7F) return false;
  }
  return true;
}

}  // namespace

bool complete(const Settings& s) { return s.ssid[0] && s.host[0] && s.deviceId[0] && s.token[0] && s.inputs; }

bool applyProvisioning(const char* line, size_t length, Settings& settings, char* answer, size_t capacity) {
  JsonReader reader(line, length);
  if (!reader.valid()) {
    return refuse(answer, capacity, "not a JSON object: paste the device's QR text, e.g. "
                                    "{\"deviceId\": ..., \"token\": ..., \"host\": ..., \"port\": 1883}");
  }
  bool forget = false;
  if (JsonReader::flag(reader.find("forget"), forget) && forget) {
    settings = Settings();
    JsonWriter out(answer, capacity);
    out.open().key("ok").boolean(true).key("forgotten").boolean(true).close();
    return true;
  }
  Settings next = settings;
  struct Text {
    const char* key;
    char* into;
    size_t capacity;
    size_t minimum;
    const char* why;
  } texts[] = {
      {"deviceId", next.deviceId, sizeof(next.deviceId), 1, "'deviceId' must be the device's id (up to 39 characters)"},
      {"token", next.token, sizeof(next.token), 16, "'token' must be the device's token (16 to 99 characters)"},
      {"host", next.host, sizeof(next.host), 1, "'host' must be the hub's name or address (up to 63 characters)"},
      {"ssid", next.ssid, sizeof(next.ssid), 1, "'ssid' must be 1 to 32 bytes"},
      {"password", next.wifiPassword, sizeof(next.wifiPassword), 0, "'password' must be at most 63 bytes"},
      {"site_key", next.siteKey, sizeof(next.siteKey), 64, "'site_key' must be the 64 hex digits of the site key"},
  };
  bool changed = false;
  for (const Text& text : texts) {
    Field field = textField(reader, text.key, text.into, text.capacity, text.minimum);
    if (field == Field::Bad) return refuse(answer, capacity, text.why);
    changed = changed || field == Field::Set;
  }
  if (!printable(next.deviceId) || !printable(next.token) || !printable(next.host)) {
    return refuse(answer, capacity, "'deviceId', 'token' and 'host' cannot hold spaces or control characters");
  }
  uint8_t key[32];
  if (next.siteKey[0] && !fromHex(next.siteKey, key, sizeof(key))) {
    return refuse(answer, capacity, "'site_key' must be the 64 hex digits of the site key");
  }
  bool bad = false;
  uint32_t number;
  if (numberField(reader, "port", 1, 65535, number, bad)) next.port = static_cast<uint16_t>(number), changed = true;
  if (bad) return refuse(answer, capacity, "'port' must be 1-65535");
  if (numberField(reader, "http_port", 1, 65535, number, bad)) {
    next.httpPort = static_cast<uint16_t>(number);
    changed = true;
  }
  if (bad) return refuse(answer, capacity, "'http_port' must be 1-65535");
  if (numberField(reader, "interval_s", 2, 3600, number, bad)) {
    next.intervalS = static_cast<uint16_t>(number);
    changed = true;
  }
  if (bad) return refuse(answer, capacity, "'interval_s' must be 2-3600");
  JsonValue inputs = reader.find("inputs");
  if (inputs.type != JsonType::Missing) {
    char word[10];
    if (!JsonReader::text(inputs, word, sizeof(word))) word[0] = '\0';
    if (strcmp(word, "door") == 0) {
      next.inputs = kDoorInput;
    } else if (strcmp(word, "thermal") == 0) {
      next.inputs = kThermalInput;
    } else if (strcmp(word, "both") == 0) {
      next.inputs = kDoorInput | kThermalInput;
    } else {
      return refuse(answer, capacity, "'inputs' must be \"door\", \"thermal\" or \"both\"");
    }
    changed = true;
  }
  if (!changed) return refuse(answer, capacity, "nothing to set: give deviceId, token, host, port, ssid, password");
  settings = next;
  JsonWriter out(answer, capacity);
  out.open().key("ok").boolean(true).key("missing").openArray();
  if (!settings.ssid[0]) out.string("ssid");
  if (!settings.host[0]) out.string("host");
  if (!settings.deviceId[0]) out.string("deviceId");
  if (!settings.token[0]) out.string("token");
  out.closeArray().close();
  return true;
}

}  // namespace kiosk
