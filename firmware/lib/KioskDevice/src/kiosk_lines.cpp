#include "kiosk_lines.h"

namespace kiosk {

bool LineReader::feed(char byte) {
  if (complete_) {  // the previous line was handed out: start a new one
    complete_ = false;
    length_ = 0;
    buffer_[0] = '\0';
  }
  if (byte == '\n') {
    if (discarding_) {
      discarding_ = false;
      length_ = 0;
      return false;
    }
    while (length_ && buffer_[length_ - 1] == '\r') length_--;
    buffer_[length_] = '\0';
    if (!length_) return false;
    complete_ = true;
    return true;
  }
  if (discarding_) return false;
  if (length_ + 1 >= capacity_) {
    discarding_ = true;
    overlong_++;
    length_ = 0;
    buffer_[0] = '\0';
    return false;
  }
  buffer_[length_++] = byte;
  return false;
}

}  // namespace kiosk
