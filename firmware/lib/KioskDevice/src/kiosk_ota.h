// Firmware updates over the air (docs/protocol.md, "Firmware updates"): the order from device/{id}/ota, the
// download streamed through SHA-256 into the spare partition (never the whole image in RAM), the Ed25519 check of
// the hub's signature over that digest, and the trial of the new image after the reboot, rolled back when it does
// not reach the hub.
//
// The checks use libsodium (crypto_hash_sha256_*, crypto_sign_ed25519_verify_detached; mbedTLS has no Ed25519).
// Not for the AVR: this file compiles to nothing there.
#pragma once

#if !defined(__AVR__)

#include <stddef.h>
#include <stdint.h>

namespace kiosk {

struct OtaOrder {
  uint32_t job = 0;
  char version[24] = {0};
  char url[200] = {0};
  uint32_t size = 0;
  uint8_t sha256[32] = {0};
  uint8_t signature[64] = {0};
};

// False (and `why` says what, in words for the admin) for an order the board cannot follow.
bool parseOtaOrder(const char* json, size_t length, OtaOrder& out, char* why, size_t capacity);

// Where the image goes: the spare OTA partition on an ESP32 (Update / esp_ota_*), a file on the host.
class FirmwareSink {
 public:
  virtual ~FirmwareSink() {}
  virtual bool begin(uint32_t size) = 0;              // false: no room (the image is larger than the partition)
  virtual bool write(const uint8_t* data, size_t length) = 0;
  virtual bool commit() = 0;                          // boot the new image next time
  virtual void abort() = 0;                           // forget what was written
};

// The reports on device/{id}/progress.
class ProgressReports {
 public:
  virtual ~ProgressReports() {}
  virtual void report(const char* state, const char* version, int8_t percent, const char* detail) = 0;
};

class OtaUpdate {
 public:
  enum class State : uint8_t { Idle, Downloading, Updating, Failed };
  static const uint32_t kMaxImage = 16u * 1024u * 1024u;  // the hub's own limit

  OtaUpdate(const uint8_t publicKey[32], FirmwareSink& sink, ProgressReports& reports);

  // Reports "downloading" and opens the sink; false (reported as failed) if it cannot begin.
  bool start(const OtaOrder& order);
  // The next downloaded bytes; false once the update failed (it has been reported).
  bool feed(const uint8_t* data, size_t length);
  // The download ended: checks size, SHA-256 and signature, in that order; then reports "verified" and
  // "updating" and commits the image (the board reboots into it). False: failed and reported.
  bool finish();
  // The download broke (connection lost, HTTP error): reported as failed with `detail`.
  void fail(const char* detail);

  State state() const { return state_; }
  bool busy() const { return state_ == State::Downloading; }
  const OtaOrder& order() const { return order_; }
  uint32_t received() const { return received_; }

 private:
  void failWith(const char* detail);

  uint8_t publicKey_[32];
  FirmwareSink& sink_;
  ProgressReports& reports_;
  OtaOrder order_;
  alignas(16) uint8_t hashState_[128];  // crypto_hash_sha256_state, kept opaque here (checked in the .cpp)
  uint32_t received_ = 0;
  int8_t reportedPercent_ = -1;
  State state_ = State::Idle;
};

// Verifies an image already on disk or in flash (the host's tool, and the tests): the same two checks.
// Returns "" when both pass, else the reason.
const char* verifyImage(const uint8_t* image, size_t length, const uint8_t sha256[32], const uint8_t signature[64],
                        const uint8_t publicKey[32]);

// --- after the reboot: the new image's trial ------------------------------------------------------------------------

// Kept in the board's settings across the reboot into a new image.
struct PendingUpdate {
  uint32_t job = 0;          // 0: no update pending
  char version[24] = {0};    // the image that should be running
  char previous[24] = {0};   // the one it replaces
  uint8_t trialBoots = 0;    // boots of the new image that did not reach the hub yet
};

enum class BootVerdict : uint8_t {
  Normal,    // no update pending
  Trial,     // the new image runs: it must reach the hub within kTrialS, else restart (a trial boot counted)
  RollBack,  // the new image had its chances: go back to the previous one now
  RolledBack // the previous image runs again (the bootloader went back, or we did): report the failure
};

class BootGuard {
 public:
  static const uint8_t kMaxTrialBoots = 3;
  static const uint32_t kTrialS = 120;

  // At start-up; updates `pending` (store it again afterwards).
  static BootVerdict onBoot(PendingUpdate& pending, const char* runningVersion);
  // The new image reached the hub (logged in, subscribed): the update is done; `pending` is cleared.
  static void confirmed(PendingUpdate& pending);
};

}  // namespace kiosk

#endif
