// A stall sensor's settings, entered over USB serial as one JSON line: the text of the QR code the Admin tab shows
// for a new device ({"deviceId", "token", "host", "port"}) plus the Wi-Fi network, in one line or several.
// The board keeps them in NVS; the token and the Wi-Fi password are never printed back.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kiosk {

enum StallInputs : uint8_t { kDoorInput = 1, kThermalInput = 2 };

struct Settings {
  char ssid[33] = {0};
  char wifiPassword[64] = {0};
  char host[64] = {0};          // the hub: name or address
  uint16_t port = 1883;         // its MQTT port
  uint16_t httpPort = 8080;     // its HTTP port (the time, firmware downloads come with their own URL)
  char deviceId[40] = {0};
  char token[100] = {0};
  uint8_t inputs = kDoorInput | kThermalInput;
  uint16_t intervalS = 10;      // a reading at least this often; the heartbeat every 6 intervals
  char siteKey[65] = {0};       // the site's OTA public key, hex; empty: the one compiled in
};

// Applies one line. `answer` gets one JSON line for the person at the serial console:
// {"ok":true,"missing":[...]} or {"ok":false,"error":"..."}. Returns whether `settings` changed (store them).
// Fields: deviceId, token, host, port, ssid, password, http_port, inputs ("door", "thermal" or "both"),
// interval_s, site_key; {"forget": true} clears everything.
bool applyProvisioning(const char* line, size_t length, Settings& settings, char* answer, size_t capacity);

// Whether the board can go online: every field it needs is set.
bool complete(const Settings& settings);

}  // namespace kiosk
