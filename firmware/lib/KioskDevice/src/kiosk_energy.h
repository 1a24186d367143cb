// An energy board's measuring: RMS current of up to 4 channels and the mains voltage over whole mains cycles,
// calibration kept in EEPROM, and the console that sets it over the serial line. Runs on an ATmega328P: no heap,
// 32-bit sums, floats only once per window.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiosk_json.h"

namespace kiosk {

const uint8_t kMaxChannels = 4;
const int16_t kAdcMid = 512;  // a 10-bit ADC's middle: sensors are biased to half the supply

struct Calibration {
  float ampsPerCount[kMaxChannels];  // A (RMS) per ADC count (RMS): ACS712-5A at 5 V: 5/1024/0.185 = 0.02639
  float voltsPerCount;               // V per ADC count of the voltage reference; 0: no reference fitted
  float nominalVolts;                // used without a reference
  uint8_t channels;                  // 1..4
  uint8_t mainsHz;                   // 50 or 60: the window's length without a reference
};

void defaultCalibration(Calibration& calibration);

// EEPROM image: "KE", version 1, the calibration, CRC-16 (CCITT). Blank or damaged: load() keeps the defaults.
const size_t kCalibrationImageBytes = 3 + sizeof(Calibration) + 2;
void storeCalibration(const Calibration& calibration, uint8_t image[kCalibrationImageBytes]);
bool loadCalibration(const uint8_t image[kCalibrationImageBytes], Calibration& calibration);
uint16_t crc16(const uint8_t* data, size_t length);

// One measuring window: `cycles` whole mains cycles, from one rising zero crossing of the voltage reference to the
// `cycles`-th after it. Without a reference (no crossings), it ends after the samples of that many cycles at
// `mainsHz` would take at the measured scan rate, i.e. after `fallbackScans` scans.
class MainsWindow {
 public:
  MainsWindow(uint8_t channels, uint8_t cycles, uint16_t fallbackScans);

  // One scan: the voltage reference's ADC count and each channel's (0..1023). True when the window is complete.
  bool add(int16_t volts, const int16_t* amps);
  bool complete() const { return complete_; }
  bool referenceSeen() const { return crossings_ > 0; }
  uint16_t scans() const { return scans_; }

  float voltsRmsCounts() const;               // RMS of the reference in ADC counts (DC removed)
  float ampsRmsCounts(uint8_t channel) const;  // 0-based
  void reset();

 private:
  float rms(int32_t sum, uint32_t squares) const;

  uint8_t channels_;
  uint8_t cycles_;
  uint16_t fallbackScans_;
  uint16_t scans_ = 0;
  uint16_t waited_ = 0;      // scans before the first crossing
  uint8_t crossings_ = 0;
  int16_t mid_ = kAdcMid;    // the reference's bias, from the previous window
  bool armed_ = false;
  bool complete_ = false;
  int32_t voltSum_ = 0;
  uint32_t voltSquares_ = 0;
  int32_t ampSum_[kMaxChannels];
  uint32_t ampSquares_[kMaxChannels];
};

struct ChannelReading {
  float volts;
  float amps;
  float watts;  // apparent power, Vrms x Irms: the hub checks power against voltage x current (docs/protocol.md)
};

// A complete window turned into readings with the calibration (`out` holds calibration.channels entries).
// (kiosk_payloads.h's energyReading() makes each a line's reading.)
void readings(const MainsWindow& window, const Calibration& calibration, ChannelReading* out);

// The serial console: a JSON line in, one answer line out (starting with "# ", which the hub ignores).
//   {"calibrate": 2, "amps": 0.435}           channel 2 carries a known 0.435 A now: its scale follows
//   {"calibrate": 2, "amps_per_count": 0.0264} set the scale itself
//   {"calibrate": "voltage", "volts": 231.0}   the mains measures 231.0 V now (or "volts_per_count")
//   {"channels": 3}, {"nominal_volts": 230}, {"mains_hz": 60}
//   {"show": "calibration"}, {"reset": "calibration"}
// Returns true when the calibration changed (the board stores it in EEPROM).
bool console(const char* line, size_t length, const MainsWindow& last, Calibration& calibration, char* answer,
             size_t capacity);

// A board id from a random seed (ADC noise and timing at first start), 6 upper-case hex digits.
void boardId(uint32_t seed, char out[7]);

}  // namespace kiosk
