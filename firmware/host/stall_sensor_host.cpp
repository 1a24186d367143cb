// The stall sensor on Linux: the same StallSensorApp as the ESP32 sketch, with a board layer made of libmosquitto
// (MQTT 3.1.1), a socket HTTP client, files in a state folder (the ESP32's NVS and OTA partitions) and standard
// input for the door and the thermal array. The end-to-end tests run it against the real hub (firmware/tests).
//
//   stall-sensor-host --state DIR [--provision JSON]...
//
// Standard input takes "door closed", "door open", "warm N" (N warm pixels of 64), "quit". An image it installs is a
// file whose first line after the 0xE9 byte reads "KIOSK-HOST-IMAGE <version>": a restart runs that version; an
// image whose line ends in " broken" never reaches the hub (to test the rollback). KIOSK_HOST_TRIAL_S shortens a new
// image's trial (120 s on a board).
// What it does is printed on standard output, one line each ("connected", "restarting", ...).

#include <fcntl.h>
#include <mosquitto.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "http_get.h"
#include "kiosk_clock.h"
#include "kiosk_json.h"
#include "kiosk_provision.h"
#include "kiosk_stall_app.h"

#ifndef KIOSK_FIRMWARE_VERSION
#define KIOSK_FIRMWARE_VERSION "1.0.0"
#endif

namespace {

std::string stateDir;
char** savedArgv = nullptr;

std::string path(const std::string& name) { return stateDir + "/" + name; }

bool exists(const std::string& name) { return access(path(name).c_str(), F_OK) == 0; }

std::string readFile(const std::string& name) {
  std::ifstream in(path(name), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const std::string& name, const std::string& text) {
  std::string temporary = path(name + ".new");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::rename(temporary.c_str(), path(name).c_str());
}

void say(const std::string& line) {
  std::cout << line << std::endl;
}

// The version an image file carries, "" if it is not a host image.
std::string imageVersion(const std::string& bytes) {
  const std::string tag = "KIOSK-HOST-IMAGE ";
  if (bytes.size() < 1 + tag.size() || static_cast<uint8_t>(bytes[0]) != 0xE9) return "";
  if (bytes.compare(1, tag.size(), tag) != 0) return "";
  size_t end = bytes.find('\n', 1 + tag.size());
  return bytes.substr(1 + tag.size(), end == std::string::npos ? std::string::npos : end - 1 - tag.size());
}

uint64_t monotonicMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000u + static_cast<uint64_t>(now.tv_nsec / 1000000);
}

std::string pendingText(const kiosk::PendingUpdate& p) {
  return std::to_string(p.job) + " " + std::to_string(p.trialBoots) + " " + (p.version[0] ? p.version : "-") + " " +
         (p.previous[0] ? p.previous : "-");
}

kiosk::PendingUpdate readPending() {
  kiosk::PendingUpdate pending;
  std::istringstream in(readFile("pending"));
  unsigned trials = 0;
  std::string version, previous;
  if (in >> pending.job >> trials >> version >> previous) {
    pending.trialBoots = static_cast<uint8_t>(trials);
    if (version != "-") strncpy(pending.version, version.c_str(), sizeof(pending.version) - 1);
    if (previous != "-") strncpy(pending.previous, previous.c_str(), sizeof(pending.previous) - 1);
  } else {
    pending = kiosk::PendingUpdate();
  }
  return pending;
}

class FileSink : public kiosk::FirmwareSink {
 public:
  bool begin(uint32_t size) override {
    if (size > 1920u * 1024u) return false;  // the ESP32's default OTA partition: 1.875 MiB
    out_.open(path("spare.bin"), std::ios::binary | std::ios::trunc);
    return static_cast<bool>(out_);
  }
  bool write(const uint8_t* data, size_t length) override {
    out_.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(length));
    return static_cast<bool>(out_);
  }
  bool commit() override {
    out_.close();
    return std::rename(path("spare.bin").c_str(), path("next.bin").c_str()) == 0;
  }
  void abort() override {
    out_.close();
    unlink(path("spare.bin").c_str());
  }

 private:
  std::ofstream out_;
};

class HostBoard : public kiosk::StallBoard {
 public:
  HostBoard(const kiosk::Settings& settings, struct mosquitto* mqtt) : settings_(settings), mqtt_(mqtt) {}

  uint64_t uptimeMs() override { return monotonicMs() - started_; }
  bool doorClosed() override { return door; }
  bool readThermal(uint8_t raw[128]) override {
    kiosk::thermalFrame(raw, 22.0f, static_cast<uint8_t>(warmPixels), 34.0f);  // a room at 22 C, a person at 34 C
    return true;
  }
  bool connected() override { return online; }
  bool publish(const char* topic, const char* payload, bool retain, int& messageId) override {
    return mosquitto_publish(mqtt_, &messageId, topic, static_cast<int>(strlen(payload)), payload, 1, retain) ==
           MOSQ_ERR_SUCCESS;
  }
  bool hubTime(uint64_t& epochMs) override {
    std::string url = std::string("http://") + settings_.host + ":" + std::to_string(settings_.httpPort) + "/";
    host::HttpAnswer answer = host::get(url, [](const uint8_t*, size_t) { return true; }, 5);
    uint32_t epoch = 0;
    if (!answer.error.empty() || !kiosk::parseHttpDate(answer.date.c_str(), epoch)) return false;
    epochMs = static_cast<uint64_t>(epoch) * 1000u;
    return true;
  }
  bool download(const char* url, kiosk::OtaUpdate& update, char* why, size_t capacity) override {
    host::HttpAnswer answer = host::get(url, [&](const uint8_t* data, size_t length) {
      return update.feed(data, length);
    });
    if (update.state() != kiosk::OtaUpdate::State::Downloading) return true;  // failed and reported already
    std::string error = answer.error;
    if (error.empty() && answer.status != 200) error = "the hub answered HTTP " + std::to_string(answer.status);
    if (error.empty()) return true;
    snprintf(why, capacity, "%s", error.c_str());
    return false;
  }
  kiosk::FirmwareSink& firmwareSink() override { return sink_; }
  void storePending(const kiosk::PendingUpdate& pending) override { writeFile("pending", pendingText(pending)); }
  void confirmImage() override {
    unlink(path("previous.bin").c_str());
    say("image confirmed");
  }
  void rollBack() override {
    say("rolling back");
    if (exists("previous.bin")) {
      std::rename(path("previous.bin").c_str(), path("current.bin").c_str());
    } else {
      unlink(path("current.bin").c_str());  // back to the version built in
    }
    restart();
  }
  void restart() override {
    say("restarting");
    // What is queued goes out first (the last progress report, the command's answer), then a clean DISCONNECT:
    // the broker does not send the last will for a restart.
    for (uint64_t until = monotonicMs() + 2000; online && mosquitto_want_write(mqtt_) && monotonicMs() < until;) {
      mosquitto_loop(mqtt_, 10, 1);
    }
    mosquitto_disconnect(mqtt_);
    mosquitto_loop(mqtt_, 10, 1);
    char* again[] = {savedArgv[0], const_cast<char*>("--state"), const_cast<char*>(stateDir.c_str()), nullptr};
    execv("/proc/self/exe", again);  // without --provision: the settings are stored
    std::perror("execv");
    std::exit(1);
  }
  void forgetWifi() override {
    unlink(path("provision.jsonl").c_str());
    say("wifi forgotten");
  }
  void identify() override { say("identify: blinking"); }
  void facts(kiosk::Facts& facts) override {
    ip_[0] = '\0';
    int fd = mosquitto_socket(mqtt_);
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    if (fd >= 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      inet_ntop(AF_INET, &address.sin_addr, ip_, sizeof(ip_));
    }
    facts.ip = ip_;
  }

  bool door = false;
  int warmPixels = 0;
  bool online = false;

 private:
  kiosk::Settings settings_;
  struct mosquitto* mqtt_;
  FileSink sink_;
  uint64_t started_ = monotonicMs();
  char ip_[INET_ADDRSTRLEN] = {0};
};

kiosk::StallSensorApp* app = nullptr;
HostBoard* board = nullptr;

void onConnect(struct mosquitto* mqtt, void*, int rc) {
  if (rc != 0) {
    say("login refused: " + std::string(mosquitto_connack_string(rc)));
    return;
  }
  board->online = true;
  mosquitto_subscribe(mqtt, nullptr, app->commandsTopic(), 1);
  mosquitto_subscribe(mqtt, nullptr, app->otaTopic(), 1);
  say("connected");
  app->onConnected();
}

void onDisconnect(struct mosquitto*, void*, int) {
  if (board->online) say("disconnected");
  board->online = false;
  app->onDisconnected();
}

void onMessage(struct mosquitto*, void*, const struct mosquitto_message* message) {
  app->onMessage(message->topic, static_cast<const char*>(message->payload), static_cast<size_t>(message->payloadlen));
}

void onPublish(struct mosquitto*, void*, int mid) { app->onPublished(mid); }

bool handleInput(const std::string& line) {
  std::istringstream words(line);
  std::string what, value;
  words >> what >> value;
  if (what == "door") board->door = value == "closed";
  if (what == "warm") board->warmPixels = std::atoi(value.c_str());
  return what != "quit";
}

}  // namespace

int main(int argc, char** argv) {
  savedArgv = argv;
  std::vector<std::string> provisioning;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--state") stateDir = argv[i + 1];
    if (flag == "--provision") provisioning.push_back(argv[i + 1]);
  }
  if (stateDir.empty()) {
    std::cerr << "usage: stall-sensor-host --state DIR [--provision JSON]...\n";
    return 2;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (sodium_init() < 0) return 1;
  // A committed image becomes the running one at this start (the bootloader's job on an ESP32).
  if (exists("next.bin")) {
    if (exists("current.bin")) std::rename(path("current.bin").c_str(), path("previous.bin").c_str());
    std::rename(path("next.bin").c_str(), path("current.bin").c_str());
  }
  std::string version = exists("current.bin") ? imageVersion(readFile("current.bin")) : "";
  bool broken = version.size() > 7 && version.compare(version.size() - 7, 7, " broken") == 0;
  if (broken) version.resize(version.size() - 7);
  if (version.empty()) version = KIOSK_FIRMWARE_VERSION;
  // The settings: every provisioning line ever applied, in order (the ESP32 keeps the result in NVS).
  kiosk::Settings settings;
  std::string stored = readFile("provision.jsonl");
  {
    std::ofstream log(path("provision.jsonl"), std::ios::app);
    for (const std::string& line : provisioning) log << line << "\n";
  }
  stored += [&] {
    std::string added;
    for (const std::string& line : provisioning) added += line + "\n";
    return added;
  }();
  std::istringstream lines(stored);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    char answer[200];
    kiosk::applyProvisioning(line.data(), line.size(), settings, answer, sizeof(answer));
    if (std::find(provisioning.begin(), provisioning.end(), line) != provisioning.end()) say(answer);
  }
  if (!kiosk::complete(settings)) {
    say("not provisioned: give deviceId, token, host, port and ssid");
    return 3;
  }
  uint8_t siteKey[32] = {0};
  if (!settings.siteKey[0] || !kiosk::fromHex(settings.siteKey, siteKey, sizeof(siteKey))) {
    say("no site key provisioned: firmware updates will be refused");
  }
  uint32_t boot = static_cast<uint32_t>(std::atoi(readFile("boot").c_str())) + 1;
  writeFile("boot", std::to_string(boot));

  mosquitto_lib_init();
  struct mosquitto* mqtt = mosquitto_new(settings.deviceId, false, nullptr);
  mosquitto_int_option(mqtt, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_username_pw_set(mqtt, settings.deviceId, settings.token);
  static kiosk::StallSample storage[1024];
  kiosk::OfflineBuffer buffer(storage, 1024);
  HostBoard hostBoard(settings, mqtt);
  board = &hostBoard;
  kiosk::StallSensorApp sensor(hostBoard, settings, siteKey, boot, version.c_str(), buffer, readPending());
  app = &sensor;
  if (const char* trial = std::getenv("KIOSK_HOST_TRIAL_S")) sensor.setTrialSeconds(static_cast<uint32_t>(std::atoi(trial)));
  if (sensor.bootVerdict() == kiosk::BootVerdict::Trial) say("on trial");
  mosquitto_will_set(mqtt, sensor.willTopic(), static_cast<int>(strlen(kiosk::kOfflineStatus)), kiosk::kOfflineStatus,
                     1, true);
  mosquitto_connect_callback_set(mqtt, onConnect);
  mosquitto_disconnect_callback_set(mqtt, onDisconnect);
  mosquitto_message_callback_set(mqtt, onMessage);
  mosquitto_publish_callback_set(mqtt, onPublish);
  say("running " + version + " (boot " + std::to_string(boot) + ")");
  if (broken) say("this image cannot reach the hub");
  bool linked = !broken && mosquitto_connect(mqtt, settings.host, settings.port, 30) == MOSQ_ERR_SUCCESS;
  uint64_t retryAt = 0;
  std::string input;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  while (true) {
    int rc = linked ? mosquitto_loop(mqtt, 10, 1) : MOSQ_ERR_NO_CONN;
    if (rc != MOSQ_ERR_SUCCESS) {
      if (board->online) onDisconnect(mqtt, nullptr, rc);
      usleep(10000);
      if (!broken && monotonicMs() >= retryAt) {
        retryAt = monotonicMs() + 1000;  // the ESP32 build retries every second too
        linked = (linked ? mosquitto_reconnect(mqtt) : mosquitto_connect(mqtt, settings.host, settings.port, 30)) ==
                 MOSQ_ERR_SUCCESS;
      }
    }
    char bytes[256];
    ssize_t n = read(0, bytes, sizeof(bytes));
    if (n == 0) break;  // standard input closed: the test is over
    if (n > 0) {
      input.append(bytes, static_cast<size_t>(n));
      size_t newline;
      while ((newline = input.find('\n')) != std::string::npos) {
        std::string line = input.substr(0, newline);
        input.erase(0, newline + 1);
        if (!handleInput(line)) {
          mosquitto_disconnect(mqtt);
          return 0;
        }
      }
    }
    sensor.loop();
    static uint16_t held = 0;
    if (buffer.size() != held) {  // what the tests wait on while the hub is away
      held = buffer.size();
      say("offline buffer: " + std::to_string(held));
    }
  }
  mosquitto_disconnect(mqtt);
  mosquitto_destroy(mqtt);
  mosquitto_lib_cleanup();
  return 0;
}
