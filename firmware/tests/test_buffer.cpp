#include <doctest/doctest.h>

#include <string>

#include "fixtures.h"
#include "kiosk_buffer.h"
#include "kiosk_clock.h"

using namespace kiosk;

TEST_CASE("HTTP dates to epoch seconds") {
  uint32_t epoch = 0;
  CHECK(parseHttpDate("Fri, 04 Dec 2026 01:31:47 GMT", epoch));
  CHECK(epoch == 1796347907u);
  CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", epoch) == false);  // before any board was built
  CHECK(parseHttpDate("Thu, 29 Feb 2024 23:59:59 GMT", epoch));
  CHECK(epoch == 1709251199u);
  CHECK_FALSE(parseHttpDate("Fri, 04 Dec 2026 01:31:47 UTC", epoch));
  CHECK_FALSE(parseHttpDate("Fri, 04 Foo 2026 01:31:47 GMT", epoch));
  CHECK_FALSE(parseHttpDate("Fri, 04 Dec 2026 25:31:47 GMT", epoch));
  CHECK_FALSE(parseHttpDate("", epoch));
}

TEST_CASE("the clock turns uptime into wall time once it is known") {
  Clock clock;
  CHECK(clock.epochMsAt(5000) == 0);
  clock.set(1795360010000ull, 10000);  // at uptime 10 s it was 1795360010.000
  CHECK(clock.epochMsAt(0) == 1795360000000ull);
  CHECK(clock.epochMsAt(12500) == 1795360012500ull);
}

TEST_CASE("the backlog message of two readings taken offline") {
  StallSample storage[8];
  OfflineBuffer buffer(storage, 8);
  buffer.push(sample(40, false, false, 0));
  buffer.push(sample(41, true, true, 12500));
  Clock clock;
  char text[512];
  JsonWriter out(text, sizeof(text));
  CHECK(backlogMessage(out, buffer, 100, 3, clock) == 0);  // no time yet: a backlog reading needs its own
  clock.set(1795360000000ull, 0);
  REQUIRE(backlogMessage(out, buffer, 100, 3, clock) == 2);
  CHECK(std::string(out.c_str()) == fixture("good/datastream-firmware-stall-backlog.json"));
}

TEST_CASE("a full buffer drops the oldest and counts them") {
  StallSample storage[4];
  OfflineBuffer buffer(storage, 4);
  for (uint32_t i = 0; i < 10; ++i) buffer.push(sample(i, i % 2, false, i * 1000));
  CHECK(buffer.size() == 4);
  CHECK(buffer.at(0).seq == 6);
  CHECK(buffer.at(3).seq == 9);
  CHECK(buffer.takeDropped() == 6);
  CHECK(buffer.takeDropped() == 0);
  buffer.drop(3);
  CHECK(buffer.size() == 1);
  CHECK(buffer.at(0).seq == 9);
  buffer.drop(5);
  CHECK(buffer.empty());
}

TEST_CASE("a backlog is sent in chunks that fit the message, oldest first") {
  StallSample storage[300];
  OfflineBuffer buffer(storage, 300);
  for (uint32_t i = 0; i < 250; ++i) buffer.push(sample(i, i % 2, i % 3 == 0, 1000ull * i));
  Clock clock;
  clock.set(1795360000000ull, 0);
  char text[4096];
  JsonWriter out(text, sizeof(text));
  uint32_t sent = 0;
  uint32_t expected = 0;
  while (!buffer.empty()) {
    uint16_t count = backlogMessage(out, buffer, 100, 7, clock);
    REQUIRE(count > 0);
    CHECK(out.length() < sizeof(text));
    CHECK(std::string(out.c_str()).find("\"seq\":\"b7-" + std::to_string(expected) + "\"") != std::string::npos);
    expected += count;
    sent += count;
    buffer.drop(count);  // the hub acknowledged it
  }
  CHECK(sent == 250);
}
