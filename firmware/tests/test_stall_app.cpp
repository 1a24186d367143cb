// The stall sensor's behaviour through a fake board: what it publishes, when, and what it does with orders.
#include <doctest/doctest.h>

#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "kiosk_stall_app.h"

using namespace kiosk;

namespace {

struct Published {
  std::string topic;
  std::string payload;
  bool retain;
  int id;
};

class FakeSink : public FirmwareSink {
 public:
  bool begin(uint32_t) override { return true; }
  bool write(const uint8_t* data, size_t length) override {
    bytes.insert(bytes.end(), data, data + length);
    return true;
  }
  bool commit() override { return committed = true; }
  void abort() override { bytes.clear(); }
  std::vector<uint8_t> bytes;
  bool committed = false;
};

class FakeBoard : public StallBoard {
 public:
  uint64_t uptimeMs() override { return now; }
  bool doorClosed() override { return door; }
  bool readThermal(uint8_t raw[128]) override {
    kiosk::thermalFrame(raw, 22.0f, static_cast<uint8_t>(warmPixels), 34.0f);  // a room at 22 C, a person at 34 C
    return true;
  }
  bool connected() override { return online; }
  bool publish(const char* topic, const char* payload, bool retain, int& messageId) override {
    if (!online) return false;
    messageId = ++lastId;
    sent.push_back({topic, payload, retain, messageId});
    return true;
  }
  bool hubTime(uint64_t& epochMs) override {
    if (!hubAnswers) return false;
    epochMs = 1795360000000ull + now;  // the hub's clock: its epoch was 1795360000.000 at our uptime 0
    return true;
  }
  bool download(const char*, OtaUpdate& update, char*, size_t) override {
    for (size_t at = 0; at < image.size(); at += 512) {
      if (!update.feed(image.data() + at, std::min<size_t>(512, image.size() - at))) return false;
    }
    return true;
  }
  FirmwareSink& firmwareSink() override { return sink; }
  void storePending(const PendingUpdate& p) override { pending = p; }
  void confirmImage() override { confirmed = true; }
  void rollBack() override { rolledBack = true; }
  void restart() override { restarts++; }
  void forgetWifi() override { forgot = true; }
  void identify() override {}
  void facts(Facts& f) override {
    f.rssi = -61;
    f.ip = "10.0.4.17";
    f.mac = "A4:CF:12:B3:C4:D5";
    f.freeHeap = 171234;
  }

  std::vector<std::string> on(const std::string& leaf) const {
    std::vector<std::string> out;
    for (const Published& p : sent) {
      if (p.topic.size() >= leaf.size() && p.topic.compare(p.topic.size() - leaf.size(), leaf.size(), leaf) == 0) {
        out.push_back(p.payload);
      }
    }
    return out;
  }

  uint64_t now = 0;
  bool door = false;
  int warmPixels = 0;
  bool online = false;
  bool hubAnswers = true;
  int lastId = 0;
  std::vector<Published> sent;
  std::vector<uint8_t> image;
  FakeSink sink;
  PendingUpdate pending;
  bool confirmed = false, rolledBack = false, forgot = false;
  int restarts = 0;
};

Settings provisioned() {
  Settings s;
  strcpy(s.deviceId, "dev1");
  strcpy(s.token, "0123456789abcdef0123");
  strcpy(s.host, "10.0.4.2");
  strcpy(s.ssid, "Library");
  return s;
}

struct Site {
  uint8_t publicKey[32];
  uint8_t secretKey[64];
  Site() {
    REQUIRE(sodium_init() >= 0);
    crypto_sign_keypair(publicKey, secretKey);
  }
  std::string order(const std::vector<uint8_t>& image, const char* version, uint32_t job = 7) const {
    uint8_t digest[32], signature[64];
    crypto_hash_sha256(digest, image.data(), image.size());
    crypto_sign_ed25519_detached(signature, nullptr, digest, 32, secretKey);
    char sha[65], sig[129];
    toHex(digest, 32, sha);
    toHex(signature, 64, sig);
    return std::string("{\"job\":") + std::to_string(job) + ",\"version\":\"" + version +
           "\",\"url\":\"http://10.0.4.2:8080/firmware/" + sha + ".bin\",\"size\":" + std::to_string(image.size()) +
           ",\"sha256\":\"" + sha + "\",\"signature\":\"" + sig + "\"}";
  }
};

void run(StallSensorApp& app, FakeBoard& board, uint64_t untilMs, uint64_t stepMs = 10) {
  while (board.now < untilMs) {
    board.now += stepMs;
    app.loop();
  }
}

}  // namespace

TEST_CASE("after the login: online status (retained), a heartbeat, and the stall's state") {
  FakeBoard board;
  Site site;
  StallSample storage[16];
  OfflineBuffer buffer(storage, 16);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  run(app, board, 200);  // before the first login: the readings wait in the buffer
  board.online = true;
  app.onConnected();
  run(app, board, 220);
  REQUIRE(board.sent.size() >= 3);
  CHECK(board.sent[0].topic == "devices/dev1/status");
  CHECK(board.sent[0].retain);
  CHECK(board.sent[0].payload.find("\"status\":\"online\"") != std::string::npos);
  CHECK(board.sent[1].topic == "device/dev1/status");
  CHECK(board.sent[1].payload.find("\"heap\":171234") != std::string::npos);
  std::string backlog = board.on("datastream").back();
  CHECK(backlog.front() == '[');  // what was read before the login, with its own time
  CHECK(backlog.find("\"door\":\"open\",\"thermal\":false,\"ts\":1795360000") != std::string::npos);
  CHECK(std::string(app.willTopic()) == "devices/dev1/status");
}

TEST_CASE("a change is sent at once, a steady state every interval") {
  FakeBoard board;
  Site site;
  StallSample storage[16];
  OfflineBuffer buffer(storage, 16);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  board.online = true;
  run(app, board, 200);
  app.onConnected();
  size_t before = board.on("datastream").size();
  board.door = true;  // the door closes
  board.warmPixels = 3;
  run(app, board, 1000);
  std::vector<std::string> readings = board.on("datastream");
  CHECK(readings.size() == before + 2);  // the door after 30 ms, the heat after 500 ms
  CHECK(readings.back().find("\"door\":\"closed\",\"thermal\":true") != std::string::npos);
  run(app, board, 11000);
  CHECK(board.on("datastream").size() == before + 3);  // nothing changed: one reading after the 10 s interval
}

TEST_CASE("offline, changes are kept; back online, they go as a backlog with their own times, once") {
  FakeBoard board;
  Site site;
  StallSample storage[16];
  OfflineBuffer buffer(storage, 16);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  board.online = true;
  run(app, board, 200);
  app.onConnected();  // the clock is set from the hub here
  board.online = false;
  app.onDisconnected();
  for (int i = 0; i < 4; ++i) {
    board.door = !board.door;
    run(app, board, board.now + 5000);
  }
  CHECK(buffer.size() == 4);
  board.online = true;
  app.onConnected();
  run(app, board, board.now + 20);
  std::vector<std::string> readings = board.on("datastream");
  const Published& backlog = board.sent.back().topic == "devices/dev1/datastream" ? board.sent.back()
                                                                                  : board.sent[board.sent.size() - 2];
  CHECK(backlog.payload.front() == '[');
  CHECK(backlog.payload.find("\"ts\":17953600") != std::string::npos);
  CHECK(buffer.size() == 5);  // the 4 changes and the state at the login, kept until the hub acknowledged them
  app.onPublished(backlog.id);
  CHECK(buffer.empty());
}

TEST_CASE("commands are answered, carried out, and refused when unknown") {
  FakeBoard board;
  Site site;
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  board.online = true;
  app.onConnected();
  std::string restart = R"({"id": "9f2c4e1a7b3d5c60", "command": "restart", "parameters": {"delay_s": 2}})";
  app.onMessage("devices/dev1/commands", restart.data(), restart.size());
  CHECK(board.on("ack").back() == R"({"id":"9f2c4e1a7b3d5c60","ok":true,"detail":"restarting in 2 s"})");
  run(app, board, board.now + 1900);
  CHECK(board.restarts == 0);
  run(app, board, board.now + 200);
  CHECK(board.restarts == 1);
  std::string dance = R"({"id":"a1","command":"dance"})";
  app.onMessage("devices/dev1/commands", dance.data(), dance.size());
  CHECK(board.on("ack").back() == R"({"id":"a1","ok":false,"detail":"unknown command 'dance'"})");
  std::string reset = R"({"id":"a2","command":"reset_wifi"})";
  app.onMessage("devices/dev1/commands", reset.data(), reset.size());
  run(app, board, board.now + 1100);
  CHECK(board.forgot);
  CHECK(board.restarts == 2);
}

TEST_CASE("an OTA order: downloaded, verified, rebooted into, confirmed once it reaches the hub") {
  FakeBoard board;
  Site site;
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  board.online = true;
  app.onConnected();
  board.image.assign(20000, 0x5A);
  board.image[0] = 0xE9;
  std::string order = site.order(board.image, "1.1.0");
  app.onMessage("device/dev1/ota", order.data(), order.size());
  run(app, board, board.now + 10);
  std::vector<std::string> progress = board.on("progress");
  CHECK(progress.front() == R"({"state":"downloading","version":"1.1.0","percent":0})");
  CHECK(progress[progress.size() - 2] == R"({"state":"verified","version":"1.1.0","percent":100})");
  CHECK(progress.back() == R"({"state":"updating","version":"1.1.0"})");
  CHECK(board.sink.committed);
  CHECK(board.restarts == 1);
  CHECK(board.pending.job == 7);
  CHECK(std::string(board.pending.previous) == "1.0.0");

  // The reboot: the new image starts on trial and is confirmed when it reaches the hub.
  FakeBoard after;
  StallSensorApp next(after, provisioned(), site.publicKey, 4, "1.1.0", buffer, board.pending);
  CHECK(next.bootVerdict() == BootVerdict::Trial);
  after.online = true;
  next.onConnected();
  CHECK(after.confirmed);
  CHECK(after.on("progress").back() == R"({"state":"updated","version":"1.1.0"})");
  CHECK(after.pending.job == 0);
}

TEST_CASE("a tampered image is refused with the reason the Admin tab shows, and the board keeps running") {
  FakeBoard board;
  Site site;
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  StallSensorApp app(board, provisioned(), site.publicKey, 3, "1.0.0", buffer, PendingUpdate());
  board.online = true;
  app.onConnected();
  board.image.assign(4096, 0x11);
  std::string order = site.order(board.image, "1.1.0");
  board.image[100] ^= 0xFF;
  app.onMessage("device/dev1/ota", order.data(), order.size());
  run(app, board, board.now + 10);
  CHECK(board.on("progress").back() == R"({"state":"failed","version":"1.1.0","detail":"SHA-256 mismatch"})");
  CHECK_FALSE(board.sink.committed);
  CHECK(board.restarts == 0);
  CHECK(board.pending.job == 0);
}

TEST_CASE("a new image that cannot reach the hub restarts after its trial time, counting the boot") {
  PendingUpdate pending;
  pending.job = 7;
  strcpy(pending.version, "1.1.0");
  strcpy(pending.previous, "1.0.0");
  Site site;
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  FakeBoard board;  // never online
  StallSensorApp app(board, provisioned(), site.publicKey, 5, "1.1.0", buffer, pending);
  CHECK(app.bootVerdict() == BootVerdict::Trial);
  CHECK(board.pending.trialBoots == 1);
  run(app, board, 1000ull * BootGuard::kTrialS - 100, 50);
  CHECK(board.restarts == 0);
  run(app, board, 1000ull * BootGuard::kTrialS + 100, 50);
  CHECK(board.restarts >= 1);
  CHECK_FALSE(board.confirmed);
}

TEST_CASE("an image that never reaches the hub is rolled back, and the failure reported by the old one") {
  PendingUpdate pending;
  pending.job = 7;
  strcpy(pending.version, "1.1.0");
  strcpy(pending.previous, "1.0.0");
  pending.trialBoots = BootGuard::kMaxTrialBoots;
  Site site;
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  FakeBoard broken;
  StallSensorApp trial(broken, provisioned(), site.publicKey, 9, "1.1.0", buffer, pending);
  CHECK(broken.rolledBack);
  FakeBoard old;
  StallSensorApp back(old, provisioned(), site.publicKey, 10, "1.0.0", buffer, broken.pending);
  CHECK(back.bootVerdict() == BootVerdict::RolledBack);
  old.online = true;
  back.onConnected();
  CHECK(old.on("progress").back() ==
        R"({"state":"failed","version":"1.1.0","detail":"rolled back to 1.0.0: 1.1.0 did not reach the hub"})");
  CHECK(old.pending.job == 0);
}
