#include <doctest/doctest.h>

#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "fixtures.h"
#include "kiosk_ota.h"

using namespace kiosk;

namespace {

struct Report {
  std::string state;
  std::string version;
  int percent;
  std::string detail;
};

class Reports : public ProgressReports {
 public:
  void report(const char* state, const char* version, int8_t percent, const char* detail) override {
    seen.push_back({state, version, percent, detail});
  }
  std::vector<std::string> states() const {
    std::vector<std::string> out;
    for (const Report& r : seen) out.push_back(r.state);
    return out;
  }
  std::vector<Report> seen;
};

class MemorySink : public FirmwareSink {
 public:
  explicit MemorySink(uint32_t room = 1u << 20) : room_(room) {}
  bool begin(uint32_t size) override {
    began = true;
    written.clear();
    return size <= room_;
  }
  bool write(const uint8_t* data, size_t length) override {
    written.insert(written.end(), data, data + length);
    return !failWrites;
  }
  bool commit() override { return committed = true; }
  void abort() override {
    aborted = true;
    written.clear();
  }
  std::vector<uint8_t> written;
  bool began = false, committed = false, aborted = false, failWrites = false;

 private:
  uint32_t room_;
};

struct Site {
  uint8_t publicKey[crypto_sign_PUBLICKEYBYTES];
  uint8_t secretKey[crypto_sign_SECRETKEYBYTES];
  Site() {
    REQUIRE(sodium_init() >= 0);
    crypto_sign_keypair(publicKey, secretKey);
  }
  // What the hub does at upload: SHA-256 of the image, Ed25519 over the 32-byte digest.
  OtaOrder order(const std::vector<uint8_t>& image, const char* version = "1.1.0") const {
    OtaOrder o;
    o.job = 12;
    strcpy(o.version, version);
    strcpy(o.url, "http://10.0.4.2:8080/firmware/x.bin");
    o.size = static_cast<uint32_t>(image.size());
    crypto_hash_sha256(o.sha256, image.data(), image.size());
    crypto_sign_ed25519_detached(o.signature, nullptr, o.sha256, sizeof(o.sha256), secretKey);
    return o;
  }
};

std::vector<uint8_t> image(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>((i * 131 + 7) & 0xFF);
  bytes[0] = 0xE9;  // an ESP32 application image's magic byte
  return bytes;
}

// Streams the image as an HTTP download would: in chunks of `chunk` bytes.
bool stream(OtaUpdate& update, const std::vector<uint8_t>& bytes, size_t chunk = 1024) {
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    size_t n = std::min(chunk, bytes.size() - at);
    if (!update.feed(bytes.data() + at, n)) return false;
  }
  return update.finish();
}

}  // namespace

TEST_CASE("the hub's order is read field by field") {
  std::string text = fixture("to-device/ota-order.json");
  OtaOrder order;
  char why[80];
  REQUIRE(parseOtaOrder(text.data(), text.size(), order, why, sizeof(why)));
  CHECK(order.job == 12);
  CHECK(std::string(order.version) == "1.1.0");
  CHECK(std::string(order.url).rfind("http://10.0.4.2:8080/firmware/3f5a", 0) == 0);
  CHECK(order.size == 912384);
  CHECK(order.sha256[0] == 0x3f);
  CHECK(order.sha256[1] == 0x5a);
  CHECK(order.signature[0] == 0x9c);
}

TEST_CASE("an order the board cannot follow says why") {
  OtaOrder order;
  char why[80];
  const char* cases[][2] = {
      {"not json", "not a JSON object"},
      {R"({"version":"1.1.0"})", "order without 'job'"},
      {R"({"job":1,"version":"1.1.0","url":"ftp://x","size":1,"sha256":"","signature":""})", "http://"},
      {R"({"job":1,"version":"1.1.0","url":"http://x","size":999999999,"sha256":"","signature":""})", "16 MiB"},
      {R"({"job":1,"version":"1.1.0","url":"http://x","size":10,"sha256":"abc","signature":""})", "64 hex"},
  };
  for (auto& c : cases) {
    CHECK_FALSE(parseOtaOrder(c[0], std::strlen(c[0]), order, why, sizeof(why)));
    CHECK_MESSAGE(std::string(why).find(c[1]) != std::string::npos, why);
  }
}

TEST_CASE("a signed image is streamed, verified and made bootable, with progress") {
  Site site;
  std::vector<uint8_t> bytes = image(100 * 1024 + 17);
  MemorySink sink;
  Reports reports;
  OtaUpdate update(site.publicKey, sink, reports);
  REQUIRE(update.start(site.order(bytes)));
  CHECK(update.busy());
  REQUIRE(stream(update, bytes));
  CHECK(sink.committed);
  CHECK(sink.written == bytes);
  std::vector<std::string> states = reports.states();
  CHECK(states.front() == "downloading");
  CHECK(states[states.size() - 2] == "verified");
  CHECK(states.back() == "updating");
  int downloading = 0;
  for (const Report& r : reports.seen) downloading += r.state == "downloading";
  CHECK(downloading == 10);  // 0 %, then every 10 % up to 90 %
  CHECK(update.state() == OtaUpdate::State::Updating);
}

TEST_CASE("a tampered image is refused and never made bootable") {
  Site site;
  std::vector<uint8_t> bytes = image(8192);
  OtaOrder order = site.order(bytes);
  bytes[4000] ^= 0x01;  // one bit flipped on the way
  MemorySink sink;
  Reports reports;
  OtaUpdate update(site.publicKey, sink, reports);
  REQUIRE(update.start(order));
  CHECK_FALSE(stream(update, bytes));
  CHECK_FALSE(sink.committed);
  CHECK(sink.aborted);
  CHECK(reports.seen.back().state == "failed");
  CHECK(reports.seen.back().detail == "SHA-256 mismatch");
}

TEST_CASE("an image signed by another site is refused") {
  Site ours, theirs;
  std::vector<uint8_t> bytes = image(8192);
  MemorySink sink;
  Reports reports;
  OtaUpdate update(ours.publicKey, sink, reports);
  REQUIRE(update.start(theirs.order(bytes)));  // their signature, their digest: the digest matches the bytes
  CHECK_FALSE(stream(update, bytes));
  CHECK_FALSE(sink.committed);
  CHECK(reports.seen.back().detail == "signature does not verify");
}

TEST_CASE("a short or overlong download, a full partition, a write error") {
  Site site;
  std::vector<uint8_t> bytes = image(4096);
  {
    MemorySink sink;
    Reports reports;
    OtaUpdate update(site.publicKey, sink, reports);
    update.start(site.order(bytes));
    update.feed(bytes.data(), 1000);
    CHECK_FALSE(update.finish());
    CHECK(reports.seen.back().detail == "the download ended after 1000 of 4096 bytes");
  }
  {
    MemorySink sink;
    Reports reports;
    OtaUpdate update(site.publicKey, sink, reports);
    update.start(site.order(bytes));
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0);
    CHECK_FALSE(stream(update, longer, 4097));
    CHECK(reports.seen.back().detail == "the image is larger than the order says");
  }
  {
    MemorySink sink(1024);
    Reports reports;
    OtaUpdate update(site.publicKey, sink, reports);
    CHECK_FALSE(update.start(site.order(bytes)));
    CHECK(reports.seen.back().detail == "the image does not fit the board's update partition");
  }
  {
    MemorySink sink;
    sink.failWrites = true;
    Reports reports;
    OtaUpdate update(site.publicKey, sink, reports);
    update.start(site.order(bytes));
    CHECK_FALSE(update.feed(bytes.data(), 100));
    CHECK(reports.seen.back().detail == "writing the update partition failed");
    CHECK_FALSE(update.feed(bytes.data(), 100));  // nothing more after a failure
  }
}

TEST_CASE("the same check for an image at rest") {
  Site site;
  std::vector<uint8_t> bytes = image(2048);
  OtaOrder order = site.order(bytes);
  CHECK(std::string(verifyImage(bytes.data(), bytes.size(), order.sha256, order.signature, site.publicKey)).empty());
  order.signature[10] ^= 0x40;
  CHECK(std::string(verifyImage(bytes.data(), bytes.size(), order.sha256, order.signature, site.publicKey)) ==
        "signature does not verify");
}

TEST_CASE("after the reboot: the new image's trial, its confirmation, and the rollback") {
  PendingUpdate pending;
  CHECK(BootGuard::onBoot(pending, "1.0.0") == BootVerdict::Normal);
  pending.job = 12;
  strcpy(pending.version, "1.1.0");
  strcpy(pending.previous, "1.0.0");
  CHECK(BootGuard::onBoot(pending, "1.1.0") == BootVerdict::Trial);
  CHECK(pending.trialBoots == 1);
  PendingUpdate good = pending;
  BootGuard::confirmed(good);
  CHECK(good.job == 0);
  CHECK(BootGuard::onBoot(pending, "1.1.0") == BootVerdict::Trial);
  CHECK(BootGuard::onBoot(pending, "1.1.0") == BootVerdict::Trial);
  CHECK(BootGuard::onBoot(pending, "1.1.0") == BootVerdict::RollBack);  // three boots without reaching the hub
  CHECK(BootGuard::onBoot(pending, "1.0.0") == BootVerdict::RolledBack);
  PendingUpdate cable = pending;
  CHECK(BootGuard::onBoot(cable, "2.0.0") == BootVerdict::Normal);  // flashed by cable meanwhile
  CHECK(cable.job == 0);
}
