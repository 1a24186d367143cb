// Lines from a serial port, one byte at a time, in a fixed buffer: a line that does not fit is dropped up to its
// newline (and counted), never split into two lines.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kiosk {

class LineReader {
 public:
  LineReader(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}

  // True when `byte` ended a line that is not empty: line() holds it (NUL-terminated, without "\r\n").
  bool feed(char byte);
  const char* line() const { return buffer_; }
  size_t length() const { return length_; }
  uint16_t overlong() const { return overlong_; }

 private:
  char* buffer_;
  size_t capacity_;
  size_t length_ = 0;
  bool complete_ = false;
  bool discarding_ = false;
  uint16_t overlong_ = 0;
};

}  // namespace kiosk
