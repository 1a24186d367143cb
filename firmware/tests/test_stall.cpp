#include <doctest/doctest.h>

#include <cstring>

#include "kiosk_stall.h"

using namespace kiosk;

namespace {

void frame(uint8_t raw[128], float background, uint8_t warm, float body) {
  thermalFrame(raw, background, warm, body);
}

}  // namespace

TEST_CASE("a bouncing reed switch changes once, after it settled") {
  Debounce door(30);
  CHECK(door.update(false, 0));  // the first reading makes the level known
  CHECK_FALSE(door.level());
  // The door closes: the contact chatters for 12 ms
  bool changes = false;
  for (uint32_t t = 100; t < 112; ++t) changes = door.update(t % 2 == 0, t) || changes;
  CHECK_FALSE(changes);
  CHECK_FALSE(door.update(true, 112));
  CHECK_FALSE(door.update(true, 141));
  CHECK(door.update(true, 142));  // held for 30 ms
  CHECK(door.level());
  CHECK_FALSE(door.update(true, 500));
  // A blip shorter than the settle time never counts
  CHECK_FALSE(door.update(false, 600));
  CHECK_FALSE(door.update(true, 610));
  CHECK_FALSE(door.update(true, 700));
  CHECK(door.level());
}

TEST_CASE("debounce across the millisecond clock's wrap") {
  Debounce door(30);
  door.update(false, 0xFFFFFFF0u);
  CHECK_FALSE(door.update(true, 0xFFFFFFF8u));
  CHECK(door.update(true, 0x00000016u));  // 30 ms later, after the wrap
  CHECK(door.level());
}

TEST_CASE("AMG8833 registers to degrees") {
  CHECK(amg8833Celsius(0x64, 0x00) == doctest::Approx(25.0));   // 100 x 0.25
  CHECK(amg8833Celsius(0xF0, 0x0F) == doctest::Approx(-4.0));   // -16 x 0.25, two's complement
  CHECK(amg8833Celsius(0x70, 0x00) == doctest::Approx(28.0));
  CHECK(amg8833ThermistorCelsius(0x90, 0x01) == doctest::Approx(25.0));  // 400 x 0.0625
  CHECK(amg8833ThermistorCelsius(0x10, 0x08) == doctest::Approx(-1.0));  // sign bit
}

TEST_CASE("the StallSense rule: two pixels at 28 C or more") {
  ThermalRule rule;
  uint8_t raw[128];
  frame(raw, 22.0f, 0, 0);
  CHECK_FALSE(someoneThere(raw, rule));
  frame(raw, 22.0f, 1, 34.0f);
  CHECK(hotPixels(raw, rule) == 1);
  CHECK_FALSE(someoneThere(raw, rule));  // one warm pixel: a lamp, a warm pipe
  frame(raw, 22.0f, 2, 28.0f);
  CHECK(someoneThere(raw, rule));        // exactly at the threshold counts
  frame(raw, 22.0f, 12, 27.75f);
  CHECK_FALSE(someoneThere(raw, rule));  // just below it does not
  frame(raw, 29.0f, 0, 0);
  CHECK(hotPixels(raw, rule) == 64);     // a hot room reads as someone: the rule's known limit (README)
}
