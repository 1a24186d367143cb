// JSON in and out without the heap: a writer into a caller's buffer and a reader that looks values up in place.
//
// Portable C++11 (no Arduino.h, no STL): the same code runs on an ATmega328P, an ESP32 and the host tests. The
// writer emits compact JSON (no spaces), the form the golden fixtures in tests/fixtures/payloads hold. Numbers are
// formatted by hand, because avr-libc's printf has no %f.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kiosk {

class JsonWriter {
 public:
  JsonWriter(char* buffer, size_t capacity);

  JsonWriter& open();          // {
  JsonWriter& close();         // }
  JsonWriter& openArray();     // [
  JsonWriter& closeArray();    // ]
  JsonWriter& key(const char* name);
  JsonWriter& string(const char* text);             // escaped; text must be UTF-8
  JsonWriter& integer(int32_t value);
  JsonWriter& unsignedInteger(uint32_t value);
  JsonWriter& bigInteger(uint64_t value);           // epoch milliseconds
  JsonWriter& fixed(float value, uint8_t decimals);  // trailing zeros dropped: 230.50 -> 230.5; NaN/inf: fails
  JsonWriter& boolean(bool value);
  JsonWriter& raw(const char* json);                // already valid JSON (a nested payload)

  // False once anything did not fit, nesting went too deep, or a number could not be written: send nothing then.
  bool ok() const { return ok_ && depth_ == 0; }
  size_t length() const { return length_; }
  const char* c_str() const { return buffer_; }
  void reset();

 private:
  void put(char c);
  void puts(const char* text);
  void separate();  // a comma before the next value or key, where one is due
  void quoted(const char* text);
  JsonWriter& openWith(char opening);
  JsonWriter& closeWith(char closing);
  void digits(uint64_t value);
  void digits32(uint32_t value);

  char* buffer_;
  size_t capacity_;
  size_t length_;
  uint16_t needComma_;  // one bit per nesting level
  uint8_t depth_;
  bool afterKey_;
  bool ok_;
};

enum class JsonType : uint8_t { Missing, Null, Boolean, Number, String, Object, Array };

// A value found in a JSON text: where it starts and how long it is (strings include their quotes).
struct JsonValue {
  JsonType type = JsonType::Missing;
  const char* start = nullptr;
  size_t length = 0;
};

// Reads values out of one JSON object text in place. The whole text is checked first (balanced, strings closed,
// at most kMaxDepth levels, nothing after the object); an invalid text finds nothing.
class JsonReader {
 public:
  static const uint8_t kMaxDepth = 16;  // the hub's own limit (docs/protocol.md)

  JsonReader(const char* text, size_t length);
  bool valid() const { return valid_; }

  JsonValue find(const char* key) const;                  // a top-level key of the object
  static JsonValue findIn(const JsonValue& object, const char* key);

  // Conversions: false if the value is missing, of another type, or does not fit.
  static bool text(const JsonValue& value, char* out, size_t capacity);  // unescaped, UTF-8, NUL-terminated
  static bool number(const JsonValue& value, double& out);
  static bool whole(const JsonValue& value, uint32_t& out);            // 0 .. 4294967295, no fraction
  static bool flag(const JsonValue& value, bool& out);                   // true/false (or 0/1)

  // Array items, one after another: `at` starts at 0 and is advanced; false at the end.
  static bool nextItem(const JsonValue& array, size_t& at, JsonValue& item);

 private:
  const char* text_;
  size_t length_;
  bool valid_;
};

// `value` in decimal into `out` (room for 11 characters), NUL-terminated; its length. 32-bit division only (AVR).
uint8_t decimal(uint32_t value, char* out);

// Writes a hex string of `count` bytes (2 * count characters + NUL) / reads one back (exactly 2 * count digits).
void toHex(const uint8_t* bytes, size_t count, char* out);
bool fromHex(const char* hex, uint8_t* out, size_t count);

}  // namespace kiosk
