// Stall readings taken while the hub cannot be reached, kept in RAM (oldest dropped when full, and counted) and
// sent later as backlog messages with their own times (docs/protocol.md, "offline backlogs").
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiosk_clock.h"
#include "kiosk_json.h"
#include "kiosk_stall.h"

namespace kiosk {

class OfflineBuffer {
 public:
  OfflineBuffer(StallSample* storage, uint16_t capacity) : items_(storage), capacity_(capacity) {}

  void push(const StallSample& sample);  // when full, the oldest goes (counted in dropped())
  uint16_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint16_t capacity() const { return capacity_; }
  const StallSample& at(uint16_t index) const;  // 0 = the oldest
  void drop(uint16_t count);                    // the oldest `count`, once the hub acknowledged them
  uint32_t takeDropped();                       // how many were lost to a full buffer since last asked

 private:
  StallSample* items_;
  uint16_t capacity_;
  uint16_t first_ = 0;
  uint16_t size_ = 0;
  uint32_t dropped_ = 0;
};

// One backlog message (a JSON array) of the oldest readings, at most `maxItems`, as many as fit in `out`'s buffer;
// how many it holds (0: nothing to send, or the time is not known yet: a backlog reading needs its own time).
uint16_t backlogMessage(JsonWriter& out, const OfflineBuffer& buffer, uint16_t maxItems, uint32_t boot,
                        const Clock& clock);

}  // namespace kiosk
