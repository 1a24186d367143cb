#include "kiosk_ota.h"

#if !defined(__AVR__)

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "kiosk_json.h"

namespace kiosk {

static_assert(sizeof(crypto_hash_sha256_state) <= 128, "the SHA-256 state must fit OtaUpdate::hashState_");

namespace {

bool refuse(char* why, size_t capacity, const char* text) {
  strncpy(why, text, capacity - 1);
  why[capacity - 1] = '\0';
  return false;
}

crypto_hash_sha256_state* hashState(uint8_t* storage) { return reinterpret_cast<crypto_hash_sha256_state*>(storage); }

}  // namespace

bool parseOtaOrder(const char* json, size_t length, OtaOrder& out, char* why, size_t capacity) {
  out = OtaOrder();
  JsonReader reader(json, length);
  if (!reader.valid()) return refuse(why, capacity, "the order is not a JSON object");
  char hex[129];
  if (!JsonReader::whole(reader.find("job"), out.job) || !out.job) return refuse(why, capacity, "order without 'job'");
  if (!JsonReader::text(reader.find("version"), out.version, sizeof(out.version)) || !out.version[0]) {
    return refuse(why, capacity, "order without 'version'");
  }
  if (!JsonReader::text(reader.find("url"), out.url, sizeof(out.url)) || strncmp(out.url, "http://", 7) != 0) {
    return refuse(why, capacity, "'url' must be an http:// address of up to 199 characters");
  }
  if (!JsonReader::whole(reader.find("size"), out.size) || !out.size || out.size > OtaUpdate::kMaxImage) {
    return refuse(why, capacity, "'size' must be 1 byte to 16 MiB");
  }
  if (!JsonReader::text(reader.find("sha256"), hex, sizeof(hex)) || !fromHex(hex, out.sha256, 32)) {
    return refuse(why, capacity, "'sha256' must be 64 hex digits");
  }
  if (!JsonReader::text(reader.find("signature"), hex, sizeof(hex)) || !fromHex(hex, out.signature, 64)) {
    return refuse(why, capacity, "'signature' must be 128 hex digits");
  }
  return true;
}

OtaUpdate::OtaUpdate(const uint8_t publicKey[32], FirmwareSink& sink, ProgressReports& reports)
    : sink_(sink), reports_(reports) {
  memcpy(publicKey_, publicKey, sizeof(publicKey_));
}

bool OtaUpdate::start(const OtaOrder& order) {
  order_ = order;
  received_ = 0;
  reportedPercent_ = 0;
  crypto_hash_sha256_init(hashState(hashState_));
  if (!sink_.begin(order.size)) {
    state_ = State::Downloading;  // so that failWith reports it
    failWith("the image does not fit the board's update partition");
    return false;
  }
  state_ = State::Downloading;
  reports_.report("downloading", order_.version, 0, "");
  return true;
}

bool OtaUpdate::feed(const uint8_t* data, size_t length) {
  if (state_ != State::Downloading) return false;
  if (length > order_.size - received_) {
    failWith("the image is larger than the order says");
    return false;
  }
  crypto_hash_sha256_update(hashState(hashState_), data, length);
  if (!sink_.write(data, length)) {
    failWith("writing the update partition failed");
    return false;
  }
  received_ += static_cast<uint32_t>(length);
  int8_t percent = static_cast<int8_t>(static_cast<uint64_t>(received_) * 100 / order_.size);
  if (percent / 10 > reportedPercent_ / 10 && percent < 100) {  // every 10 %
    reportedPercent_ = percent;
    reports_.report("downloading", order_.version, percent, "");
  }
  return true;
}

bool OtaUpdate::finish() {
  if (state_ != State::Downloading) return false;
  if (received_ != order_.size) {
    char detail[80];
    snprintf(detail, sizeof(detail), "the download ended after %lu of %lu bytes", static_cast<unsigned long>(received_),
             static_cast<unsigned long>(order_.size));
    failWith(detail);
    return false;
  }
  uint8_t digest[32];
  crypto_hash_sha256_final(hashState(hashState_), digest);
  if (sodium_memcmp(digest, order_.sha256, sizeof(digest)) != 0) {
    failWith("SHA-256 mismatch");
    return false;
  }
  if (crypto_sign_ed25519_verify_detached(order_.signature, digest, sizeof(digest), publicKey_) != 0) {
    failWith("signature does not verify");
    return false;
  }
  reports_.report("verified", order_.version, 100, "");
  state_ = State::Updating;
  reports_.report("updating", order_.version, -1, "");
  if (!sink_.commit()) {
    failWith("the new image could not be made bootable");
    return false;
  }
  return true;
}

void OtaUpdate::fail(const char* detail) {
  if (state_ == State::Downloading) failWith(detail);
}

void OtaUpdate::failWith(const char* detail) {
  sink_.abort();
  state_ = State::Failed;
  reports_.report("failed", order_.version, -1, detail);
}

const char* verifyImage(const uint8_t* image, size_t length, const uint8_t sha256[32], const uint8_t signature[64],
                        const uint8_t publicKey[32]) {
  uint8_t digest[32];
  crypto_hash_sha256(digest, image, length);
  if (sodium_memcmp(digest, sha256, sizeof(digest)) != 0) return "SHA-256 mismatch";
  if (crypto_sign_ed25519_verify_detached(signature, digest, sizeof(digest), publicKey) != 0) {
    return "signature does not verify";
  }
  return "";
}

BootVerdict BootGuard::onBoot(PendingUpdate& pending, const char* runningVersion) {
  if (!pending.job) return BootVerdict::Normal;
  if (strcmp(runningVersion, pending.version) != 0) {
    if (strcmp(runningVersion, pending.previous) == 0) return BootVerdict::RolledBack;
    pending = PendingUpdate();  // neither: flashed by cable meanwhile; the update is not ours to judge any more
    return BootVerdict::Normal;
  }
  if (pending.trialBoots >= kMaxTrialBoots) return BootVerdict::RollBack;
  pending.trialBoots++;
  return BootVerdict::Trial;
}

void BootGuard::confirmed(PendingUpdate& pending) { pending = PendingUpdate(); }

}  // namespace kiosk

#endif
