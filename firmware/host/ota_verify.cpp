// The firmware's own update check, on a file: `ota-verify PUBLIC_KEY SHA256 SIGNATURE FILE` (all hex but FILE).
// Streams the file in 1 KiB chunks through the same OtaUpdate a board runs (SHA-256, then the Ed25519 signature over
// the digest), into nowhere. Prints "ok" and exits 0, or prints the board's reason and exits 1. For checking what
// `kiosk firmware upload` signed (firmware/tests) and an image at hand before a rollout.
#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kiosk_json.h"
#include "kiosk_ota.h"

namespace {

class NowhereSink : public kiosk::FirmwareSink {
 public:
  bool begin(uint32_t) override { return true; }
  bool write(const uint8_t*, size_t) override { return true; }
  bool commit() override { return true; }
  void abort() override {}
};

class LastReport : public kiosk::ProgressReports {
 public:
  void report(const char* said, const char*, int8_t, const char* why) override {
    state = said;
    detail = why;
  }
  std::string state, detail;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: ota-verify PUBLIC_KEY_HEX SHA256_HEX SIGNATURE_HEX FILE\n");
    return 2;
  }
  if (sodium_init() < 0) return 2;
  uint8_t key[32];
  kiosk::OtaOrder order;
  if (!kiosk::fromHex(argv[1], key, 32) || !kiosk::fromHex(argv[2], order.sha256, 32) ||
      !kiosk::fromHex(argv[3], order.signature, 64)) {
    std::fprintf(stderr, "ota-verify: the key needs 64 hex digits, the SHA-256 64, the signature 128\n");
    return 2;
  }
  std::ifstream file(argv[4], std::ios::binary | std::ios::ate);
  if (!file) {
    std::fprintf(stderr, "ota-verify: cannot read %s\n", argv[4]);
    return 2;
  }
  order.job = 1;
  order.size = static_cast<uint32_t>(file.tellg());
  std::strcpy(order.version, "file");
  file.seekg(0);
  NowhereSink sink;
  LastReport last;
  kiosk::OtaUpdate update(key, sink, last);
  if (!update.start(order)) {
    std::printf("%s\n", last.detail.c_str());
    return 1;
  }
  std::vector<char> chunk(1024);
  while (file) {
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize n = file.gcount();
    if (n > 0 && !update.feed(reinterpret_cast<const uint8_t*>(chunk.data()), static_cast<size_t>(n))) break;
  }
  if (update.state() == kiosk::OtaUpdate::State::Downloading && update.finish()) {
    std::printf("ok\n");
    return 0;
  }
  std::printf("%s\n", last.detail.c_str());
  return 1;
}
