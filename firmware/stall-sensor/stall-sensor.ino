// Front Desk Kiosk stall sensor: ESP32 (Arduino core for ESP32 2.0.x, ESP-IDF 4.4; 3.x with IDF 5 too), a reed
// switch on the stall door and an AMG8833 8x8 thermal array.
//
// Everything the sensor decides (what to send and when, the offline buffer, commands, firmware updates and their
// checks) is StallSensorApp in lib/KioskDevice, tested on the host and run against the real hub by the Linux build
// (firmware/host). This file is the ESP32 board layer: pins, Wi-Fi, NVS, the MQTT client, HTTP and the OTA partitions.
//
// Pins (ESP32 DevKitC): reed switch between GPIO 4 and GND (internal pull-up: closed = LOW), AMG8833 on I2C
// SDA 21 / SCL 22 at address 0x69 (AD_SELECT high; 0x68 with it low), status LED on GPIO 2.
// Provisioning: USB serial at 115200 baud, one JSON line (firmware/README.md).

#include <Arduino.h>
#include <HTTPClient.h>
#include <Preferences.h>
#include <Update.h>
#include <WiFi.h>
#include <Wire.h>
#include <esp_ota_ops.h>
#include <esp_timer.h>
#include <mqtt_client.h>
#include <sodium.h>

#include <atomic>

#include "kiosk_json.h"
#include "kiosk_lines.h"
#include "kiosk_provision.h"
#include "kiosk_stall_app.h"

#ifndef KIOSK_FIRMWARE_VERSION
#define KIOSK_FIRMWARE_VERSION "1.0.0"
#endif
// The site's OTA public key (Admin > Firmware, or `kiosk firmware public-key`), 64 hex digits, compiled in with
// -DKIOSK_SITE_PUBLIC_KEY=\"...\" (platformio.ini); a key provisioned as "site_key" takes its place.
#ifndef KIOSK_SITE_PUBLIC_KEY
#define KIOSK_SITE_PUBLIC_KEY ""
#endif

// The core confirms a new image by itself at start unless told otherwise: the app confirms it once it reached the
// hub, and rolls it back when it does not (BootGuard).
extern "C" bool verifyRollbackLater() { return true; }

namespace {

const int kDoorPin = 4;
const int kLedPin = 2;
const uint8_t kThermalAddress = 0x69;
const char kFirmware[] = KIOSK_FIRMWARE_VERSION;

Preferences nvs;
kiosk::Settings settings;
kiosk::StallSample storage[2048];  // 32 KB: about 5 days of a busy stall's changes (README)
kiosk::OfflineBuffer buffer(storage, 2048);
char consoleLine[400];
kiosk::LineReader console(consoleLine, sizeof(consoleLine));

// MQTT events arrive on the client's own task; the app runs on loop(): they are handed over through a queue.
struct Event {
  enum Kind : uint8_t { Connected, Disconnected, Published, Data } kind;
  int messageId;
  char topic[96];
  char payload[640];
  size_t length;
};
QueueHandle_t events;
esp_mqtt_client_handle_t mqtt = nullptr;
volatile bool online = false;
std::atomic<int> inFlight{0};  // QoS 1 publishes not acknowledged yet (restart() lets them go out first)

class Sink : public kiosk::FirmwareSink {
 public:
  bool begin(uint32_t size) override { return Update.begin(size, U_FLASH); }
  bool write(const uint8_t* data, size_t length) override {
    return Update.write(const_cast<uint8_t*>(data), length) == length;
  }
  bool commit() override { return Update.end(true); }  // sets the new image to boot next
  void abort() override { Update.abort(); }
};

class Esp32Board : public kiosk::StallBoard {
 public:
  uint64_t uptimeMs() override { return static_cast<uint64_t>(esp_timer_get_time() / 1000); }
  bool doorClosed() override { return digitalRead(kDoorPin) == LOW; }
  bool readThermal(uint8_t raw[128]) override {
    Wire.beginTransmission(kThermalAddress);
    Wire.write(0x80);  // the first pixel's register; the chip reads on through all 64
    if (Wire.endTransmission(false) != 0) return false;
    if (Wire.requestFrom(kThermalAddress, static_cast<uint8_t>(128)) != 128) return false;
    for (int i = 0; i < 128; ++i) raw[i] = static_cast<uint8_t>(Wire.read());
    return true;
  }
  bool connected() override { return online; }
  bool publish(const char* topic, const char* payload, bool retain, int& messageId) override {
    messageId = esp_mqtt_client_enqueue(mqtt, topic, payload, 0, 1, retain ? 1 : 0, true);  // kept in the outbox
    if (messageId >= 0) inFlight++;
    return messageId >= 0;
  }
  bool hubTime(uint64_t& epochMs) override {
    HTTPClient http;
    String url = String("http://") + settings.host + ":" + settings.httpPort + "/";
    if (!http.begin(url)) return false;
    const char* wanted[] = {"Date"};
    http.collectHeaders(wanted, 1);
    http.setTimeout(5000);
    int code = http.GET();
    String date = http.header("Date");
    http.end();
    uint32_t epoch = 0;
    if (code <= 0 || !kiosk::parseHttpDate(date.c_str(), epoch)) return false;
    epochMs = static_cast<uint64_t>(epoch) * 1000u;
    return true;
  }
  bool download(const char* url, kiosk::OtaUpdate& update, char* why, size_t capacity) override {
    HTTPClient http;
    if (!http.begin(url)) {
      snprintf(why, capacity, "not a URL the board can fetch");
      return false;
    }
    http.setTimeout(10000);
    int code = http.GET();
    if (code != 200) {
      snprintf(why, capacity, "the hub answered HTTP %d", code);
      http.end();
      return false;
    }
    WiFiClient* stream = http.getStreamPtr();
    uint8_t chunk[1024];  // streamed: the image never is in RAM as a whole
    uint32_t lastData = millis();
    while (update.received() < update.order().size && http.connected()) {
      size_t available = stream->available();
      if (!available) {
        if (millis() - lastData > 10000) break;
        delay(2);
        continue;
      }
      int n = stream->readBytes(chunk, available < sizeof(chunk) ? available : sizeof(chunk));
      if (n <= 0) continue;
      lastData = millis();
      if (!update.feed(chunk, static_cast<size_t>(n))) {
        http.end();
        return true;  // failed and reported by the update itself
      }
    }
    http.end();
    if (update.received() < update.order().size) {
      snprintf(why, capacity, "the download ended after %lu of %lu bytes",
               static_cast<unsigned long>(update.received()), static_cast<unsigned long>(update.order().size));
      return false;
    }
    return true;
  }
  kiosk::FirmwareSink& firmwareSink() override { return sink_; }
  void storePending(const kiosk::PendingUpdate& pending) override { nvs.putBytes("pending", &pending, sizeof pending); }
  void confirmImage() override { esp_ota_mark_app_valid_cancel_rollback(); }
  void rollBack() override { esp_ota_mark_app_invalid_rollback_and_reboot(); }
  void restart() override {
    for (uint32_t started = millis(); online && inFlight > 0 && millis() - started < 2000;) {
      delay(10);  // the last answer or report goes out first (counted down by the MQTT task's PUBLISHED events)
    }
    esp_mqtt_client_disconnect(mqtt);  // a clean DISCONNECT: no last will for a restart
    delay(100);
    ESP.restart();
  }
  void forgetWifi() override {
    settings.ssid[0] = settings.wifiPassword[0] = '\0';
    nvs.putBytes("settings", &settings, sizeof settings);
    WiFi.disconnect(true, true);
  }
  void identify() override { identifyUntil = millis() + 10000; }
  void facts(kiosk::Facts& facts) override {
    static char ip[16], mac[18];
    strncpy(ip, WiFi.localIP().toString().c_str(), sizeof(ip) - 1);
    strncpy(mac, WiFi.macAddress().c_str(), sizeof(mac) - 1);
    facts.rssi = static_cast<int16_t>(WiFi.RSSI());
    facts.ip = ip;
    facts.mac = mac;
    facts.freeHeap = ESP.getFreeHeap();
  }

  uint32_t identifyUntil = 0;

 private:
  Sink sink_;
};

Esp32Board board;
kiosk::StallSensorApp* app = nullptr;

void mqttEvent(void*, esp_event_base_t, int32_t id, void* data) {
  auto* event = static_cast<esp_mqtt_event_handle_t>(data);
  Event e{};
  switch (static_cast<esp_mqtt_event_id_t>(id)) {
    case MQTT_EVENT_CONNECTED: online = true; e.kind = Event::Connected; break;
    case MQTT_EVENT_DISCONNECTED:
      online = false;
      inFlight = 0;  // the outbox sends them again after the next login
      e.kind = Event::Disconnected;
      break;
    case MQTT_EVENT_PUBLISHED:
      if (inFlight > 0) inFlight--;
      e.kind = Event::Published;
      e.messageId = event->msg_id;
      break;
    case MQTT_EVENT_DATA:
      // a message in several pieces (larger than the client's buffer) is not one the hub sends: dropped
      if (event->total_data_len != event->data_len || event->data_len >= static_cast<int>(sizeof(e.payload)) ||
          event->topic_len >= static_cast<int>(sizeof(e.topic))) {
        return;
      }
      e.kind = Event::Data;
      memcpy(e.topic, event->topic, event->topic_len);
      e.topic[event->topic_len] = '\0';
      memcpy(e.payload, event->data, event->data_len);
      e.payload[event->data_len] = '\0';
      e.length = static_cast<size_t>(event->data_len);
      break;
    default: return;
  }
  xQueueSend(events, &e, 0);
}

void startMqtt() {
  static char uri[96];
  snprintf(uri, sizeof(uri), "mqtt://%s:%u", settings.host, settings.port);
  esp_mqtt_client_config_t config = {};
#if ESP_IDF_VERSION_MAJOR >= 5
  config.broker.address.uri = uri;
  config.credentials.client_id = settings.deviceId;
  config.credentials.username = settings.deviceId;
  config.credentials.authentication.password = settings.token;
  config.session.disable_clean_session = true;  // the broker keeps what it queued while the board was away
  config.session.keepalive = 30;
  config.session.last_will.topic = app->willTopic();
  config.session.last_will.msg = kiosk::kOfflineStatus;
  config.session.last_will.qos = 1;
  config.session.last_will.retain = 1;
  config.session.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
#else
  config.uri = uri;
  config.client_id = settings.deviceId;
  config.username = settings.deviceId;
  config.password = settings.token;
  config.disable_clean_session = true;
  config.keepalive = 30;
  config.lwt_topic = app->willTopic();
  config.lwt_msg = kiosk::kOfflineStatus;
  config.lwt_qos = 1;
  config.lwt_retain = 1;
  config.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
#endif
  mqtt = esp_mqtt_client_init(&config);
  esp_mqtt_client_register_event(mqtt, static_cast<esp_mqtt_event_id_t>(ESP_EVENT_ANY_ID), mqttEvent, nullptr);
  esp_mqtt_client_start(mqtt);  // it reconnects by itself after Wi-Fi or the hub comes back
}

void provisionFromConsole() {
  while (Serial.available()) {
    if (!console.feed(static_cast<char>(Serial.read()))) continue;
    char answer[200];
    if (kiosk::applyProvisioning(console.line(), console.length(), settings, answer, sizeof(answer))) {
      nvs.putBytes("settings", &settings, sizeof settings);
    }
    Serial.println(answer);
    if (kiosk::complete(settings) && !app) {
      Serial.println("{\"ok\":true,\"restarting\":\"provisioned\"}");
      delay(200);
      ESP.restart();
    }
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);
  pinMode(kDoorPin, INPUT_PULLUP);
  pinMode(kLedPin, OUTPUT);
  Wire.begin(21, 22);
  events = xQueueCreate(8, sizeof(Event));
  nvs.begin("kiosk", false);
  if (nvs.getBytesLength("settings") == sizeof settings) nvs.getBytes("settings", &settings, sizeof settings);
  uint32_t boot = nvs.getUInt("boot", 0) + 1;
  nvs.putUInt("boot", boot);
  Serial.printf("{\"firmware\":\"%s\",\"boot\":%lu,\"provisioned\":%s}\n", kFirmware, static_cast<unsigned long>(boot),
                kiosk::complete(settings) ? "true" : "false");
  if (!kiosk::complete(settings)) return;  // waits for its settings on the console (loop)
  uint8_t key[32] = {0};
  const char* hex = settings.siteKey[0] ? settings.siteKey : KIOSK_SITE_PUBLIC_KEY;
  if (!kiosk::fromHex(hex, key, sizeof key)) Serial.println("{\"warning\":\"no site key: updates will be refused\"}");
  sodium_init();
  kiosk::PendingUpdate pending;
  if (nvs.getBytesLength("pending") == sizeof pending) nvs.getBytes("pending", &pending, sizeof pending);
  static kiosk::StallSensorApp sensor(board, settings, key, boot, kFirmware, buffer, pending);
  app = &sensor;
  WiFi.mode(WIFI_STA);
  WiFi.setAutoReconnect(true);
  WiFi.begin(settings.ssid, settings.wifiPassword);
  startMqtt();
}

void loop() {
  provisionFromConsole();
  if (!app) {
    digitalWrite(kLedPin, (millis() / 250) % 2);  // fast blink: waiting to be provisioned
    delay(5);
    return;
  }
  Event e;
  while (xQueueReceive(events, &e, 0) == pdTRUE) {
    switch (e.kind) {
      case Event::Connected:
        esp_mqtt_client_subscribe(mqtt, app->commandsTopic(), 1);
        esp_mqtt_client_subscribe(mqtt, app->otaTopic(), 1);
        app->onConnected();
        break;
      case Event::Disconnected: app->onDisconnected(); break;
      case Event::Published: app->onPublished(e.messageId); break;
      case Event::Data: app->onMessage(e.topic, e.payload, e.length); break;
    }
  }
  app->loop();
  bool blinking = millis() < board.identifyUntil;
  digitalWrite(kLedPin, blinking ? (millis() / 100) % 2 : online);
  delay(5);
}
