// Each payload the firmware builds, byte for byte against the fixture the hub's parser is tested with.
#include <doctest/doctest.h>

#include <string>

#include "fixtures.h"
#include "kiosk_payloads.h"

using namespace kiosk;

namespace {

kiosk::Facts board() {
  Facts facts;
  facts.uptimeS = 3600;
  facts.rssi = -61;
  facts.firmware = "1.0.0";
  facts.ip = "10.0.4.17";
  facts.mac = "A4:CF:12:B3:C4:D5";
  facts.freeHeap = 171234;
  return facts;
}


}  // namespace

TEST_CASE("topics") {
  char out[80];
  CHECK(topic(out, sizeof(out), "devices", "0b9e6f5e-1d2c-4c51-9d0a-2f1e4b6a7c80", "datastream"));
  CHECK(std::string(out) == "devices/0b9e6f5e-1d2c-4c51-9d0a-2f1e4b6a7c80/datastream");
  CHECK(topic(out, sizeof(out), "device", "abc", "status"));
  CHECK(std::string(out) == "device/abc/status");
  char small[10];
  CHECK_FALSE(topic(small, sizeof(small), "devices", "abc", "datastream"));
  CHECK(std::string(small).empty());
}

TEST_CASE("a live stall reading") {
  char buffer[128];
  JsonWriter out(buffer, sizeof(buffer));
  REQUIRE(stallReading(out, sample(41, true, true), 3, 0));
  CHECK(std::string(out.c_str()) == fixture("good/datastream-firmware-stall.json"));
}

TEST_CASE("a board with a door contact only") {
  char buffer[128];
  JsonWriter out(buffer, sizeof(buffer));
  StallSample door;
  door.hasDoor = true;
  door.doorClosed = false;
  REQUIRE(stallReading(out, door, 1, 0));
  CHECK(std::string(out.c_str()) == fixture("good/datastream-firmware-door-only.json"));
  StallSample nothing;
  JsonWriter empty(buffer, sizeof(buffer));
  CHECK_FALSE(stallReading(empty, nothing, 1, 0));
}

TEST_CASE("heartbeat, online status and last will") {
  char buffer[256];
  JsonWriter beat(buffer, sizeof(buffer));
  REQUIRE(heartbeat(beat, board()));
  CHECK(std::string(beat.c_str()) == fixture("good/heartbeat-firmware.json"));
  Facts justUp = board();
  justUp.uptimeS = 12;
  JsonWriter status(buffer, sizeof(buffer));
  REQUIRE(onlineStatus(status, justUp));
  CHECK(std::string(status.c_str()) == fixture("good/status-firmware-online.json"));
  CHECK(std::string(kOfflineStatus) == fixture("good/status-firmware-offline.json"));
}

TEST_CASE("answers to commands and update reports") {
  char buffer[160];
  JsonWriter ok(buffer, sizeof(buffer));
  REQUIRE(ack(ok, "9f2c4e1a7b3d5c60", true, "restarting in 2 s"));
  CHECK(std::string(ok.c_str()) == fixture("good/ack-firmware-restart.json"));
  JsonWriter no(buffer, sizeof(buffer));
  REQUIRE(ack(no, "9f2c4e1a7b3d5c60", false, "unknown command 'dance'"));
  CHECK(std::string(no.c_str()) == fixture("good/ack-firmware-unknown.json"));
  JsonWriter down(buffer, sizeof(buffer));
  REQUIRE(progress(down, "downloading", "1.1.0", 40, ""));
  CHECK(std::string(down.c_str()) == fixture("good/progress-firmware-downloading.json"));
  JsonWriter failed(buffer, sizeof(buffer));
  REQUIRE(progress(failed, "failed", "1.1.0", -1, "signature does not verify"));
  CHECK(std::string(failed.c_str()) == fixture("good/progress-firmware-failed.json"));
  JsonWriter log(buffer, sizeof(buffer));
  REQUIRE(logLine(log, "warn", "offline buffer full: 12 oldest readings dropped"));
  CHECK(std::string(log.c_str()) == fixture("good/logs-firmware.json"));
}

TEST_CASE("a channel's measurement as its line's reading: no port on a one-channel board") {
  EnergyReading second = energyReading(1, 4, 230.4f, 0.435f, 100.22f, 118);
  CHECK(second.channel == 2);
  CHECK(second.seq == 118);
  CHECK(energyReading(0, 1, 229.8f, 0.02f, 4.6f, 0).channel == 0);
  char text[12];
  CHECK(decimal(4294967295u, text) == 10);
  CHECK(std::string(text) == "4294967295");
  CHECK(decimal(0, text) == 1);
  CHECK(std::string(text) == "0");
}

TEST_CASE("the energy board's lines") {
  char buffer[160];
  JsonWriter line(buffer, sizeof(buffer));
  EnergyReading reading;
  reading.channel = 2;
  reading.volts = 230.4f;
  reading.amps = 0.435f;
  reading.watts = reading.volts * reading.amps;
  reading.seq = 118;
  REQUIRE(energyLine(line, reading));
  CHECK(std::string(line.c_str()) == fixture("good/serial-firmware-reading.txt"));
  EnergyReading single;
  single.volts = 229.8f;
  single.amps = 0.02f;
  single.watts = single.volts * single.amps;
  JsonWriter one(buffer, sizeof(buffer));
  REQUIRE(energyLine(one, single));
  CHECK(std::string(one.c_str()) == fixture("good/serial-firmware-reading-single.txt"));
  const float noise[4] = {0.012f, 0.011f, 0.013f, 0.010f};
  JsonWriter hello(buffer, sizeof(buffer));
  REQUIRE(helloLine(hello, "E3A1F0", "1.0.0", 4, noise));
  CHECK(std::string(hello.c_str()) == fixture("good/serial-firmware-hello.txt"));
}
