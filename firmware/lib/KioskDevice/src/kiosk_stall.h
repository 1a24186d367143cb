// A stall sensor's inputs: a reed switch on the door (debounced) and an AMG8833 8x8 thermal array (the StallSense
// rule: someone is there when at least 2 pixels read 28 C or more).
#pragma once

#include <stdint.h>

namespace kiosk {

// A contact that bounces: a new level counts once it has held for `settleMs` without a change.
class Debounce {
 public:
  explicit Debounce(uint32_t settleMs) : settleMs_(settleMs) {}

  // Feed the raw level read at `nowMs` (any clock in ms that wraps at 2^32); true when the stable level changed.
  bool update(bool raw, uint32_t nowMs);
  bool level() const { return stable_; }
  bool known() const { return known_; }

 private:
  uint32_t settleMs_;
  uint32_t since_ = 0;
  bool candidate_ = false;
  bool stable_ = false;
  bool known_ = false;
};

struct ThermalRule {
  float thresholdC = 28.0f;   // a pixel this warm or warmer is a person
  uint8_t minPixels = 2;      // this many such pixels: someone is there
};

const uint8_t kThermalPixels = 64;

// One AMG8833 pixel from its two registers (12-bit two's complement, 0.25 C per step).
float amg8833Celsius(uint8_t low, uint8_t high);
// The chip's own thermistor register (12-bit sign-magnitude, 0.0625 C per step): the board's temperature.
float amg8833ThermistorCelsius(uint8_t low, uint8_t high);
// Pixels at or above the rule's threshold; `raw` is the 128 bytes read from register 0x80.
uint8_t hotPixels(const uint8_t raw[2 * kThermalPixels], const ThermalRule& rule);
bool someoneThere(const uint8_t raw[2 * kThermalPixels], const ThermalRule& rule);
// The registers of a frame whose first `warm` pixels read `bodyC` and the rest `backgroundC` (for simulated
// boards: the Linux build and the tests).
void thermalFrame(uint8_t raw[2 * kThermalPixels], float backgroundC, uint8_t warm, float bodyC);

// What a combined board knows about its stall at one moment.
struct StallSample {
  uint64_t takenMs = 0;   // the device's own uptime clock (ms since boot) when it was taken
  uint32_t seq = 0;       // counts readings since boot: "b{boot}-{seq}" is the reading's id
  bool hasDoor = false;
  bool doorClosed = false;
  bool hasThermal = false;
  bool thermal = false;
};

}  // namespace kiosk
