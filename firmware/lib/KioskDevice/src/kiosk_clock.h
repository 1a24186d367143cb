// Wall-clock time on a board that has none: set from the hub's HTTP Date header (any answer from the hub carries
// one, so no NTP server is needed in the library's network) or from SNTP, and kept against the uptime clock.
#pragma once

#include <stdint.h>

namespace kiosk {

class Clock {
 public:
  void set(uint64_t epochMs, uint64_t uptimeMs) {
    offsetMs_ = epochMs - uptimeMs;
    known_ = true;
  }
  bool known() const { return known_; }
  // The epoch time at a moment of the uptime clock; 0 while the time is not known.
  uint64_t epochMsAt(uint64_t uptimeMs) const { return known_ ? offsetMs_ + uptimeMs : 0; }

 private:
  uint64_t offsetMs_ = 0;
  bool known_ = false;
};

// An HTTP date (RFC 9110 IMF-fixdate, "Fri, 04 Dec 2026 01:31:47 GMT") as seconds since 1970; false otherwise.
bool parseHttpDate(const char* text, uint32_t& epochS);

}  // namespace kiosk
