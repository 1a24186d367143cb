#include "kiosk_stall.h"

namespace kiosk {

bool Debounce::update(bool raw, uint32_t nowMs) {
  if (!known_) {
    known_ = true;
    stable_ = candidate_ = raw;
    since_ = nowMs;
    return true;
  }
  if (raw != candidate_) {
    candidate_ = raw;
    since_ = nowMs;
    return false;
  }
  if (raw != stable_ && static_cast<uint32_t>(nowMs - since_) >= settleMs_) {
    stable_ = raw;
    return true;
  }
  return false;
}

float amg8833Celsius(uint8_t low, uint8_t high) {
  int16_t raw = static_cast<int16_t>((static_cast<uint16_t>(high & 0x0F) << 8) | low);
  if (raw & 0x800) raw = static_cast<int16_t>(raw - 0x1000);  // 12-bit two's complement
  return static_cast<float>(raw) * 0.25f;
}

float amg8833ThermistorCelsius(uint8_t low, uint8_t high) {
  int16_t magnitude = static_cast<int16_t>((static_cast<uint16_t>(high & 0x07) << 8) | low);
  float celsius = static_cast<float>(magnitude) * 0.0625f;
  return (high & 0x08) ? -celsius : celsius;
}

uint8_t hotPixels(const uint8_t raw[2 * kThermalPixels], const ThermalRule& rule) {
  uint8_t hot = 0;
  for (uint8_t i = 0; i < kThermalPixels; ++i) {
    if (amg8833Celsius(raw[2 * i], raw[2 * i + 1]) >= rule.thresholdC) hot++;
  }
  return hot;
}

bool someoneThere(const uint8_t raw[2 * kThermalPixels], const ThermalRule& rule) {
  return hotPixels(raw, rule) >= rule.minPixels;
}

void thermalFrame(uint8_t raw[2 * kThermalPixels], float backgroundC, uint8_t warm, float bodyC) {
  for (uint8_t i = 0; i < kThermalPixels; ++i) {
    int16_t counts = static_cast<int16_t>((i < warm ? bodyC : backgroundC) * 4.0f);  // 0.25 C per count
    uint16_t bits = static_cast<uint16_t>(counts) & 0x0FFF;
    raw[2 * i] = static_cast<uint8_t>(bits & 0xFF);
    raw[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
  }
}

}  // namespace kiosk
