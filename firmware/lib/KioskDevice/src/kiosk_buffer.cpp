#include "kiosk_buffer.h"

#include "kiosk_payloads.h"

namespace kiosk {

void OfflineBuffer::push(const StallSample& sample) {
  if (!capacity_) return;
  if (size_ == capacity_) {
    first_ = static_cast<uint16_t>((first_ + 1) % capacity_);
    size_--;
    dropped_++;
  }
  items_[(first_ + size_) % capacity_] = sample;
  size_++;
}

const StallSample& OfflineBuffer::at(uint16_t index) const { return items_[(first_ + index) % capacity_]; }

void OfflineBuffer::drop(uint16_t count) {
  if (count > size_) count = size_;
  first_ = static_cast<uint16_t>((first_ + count) % (capacity_ ? capacity_ : 1));
  size_ = static_cast<uint16_t>(size_ - count);
}

uint32_t OfflineBuffer::takeDropped() {
  uint32_t dropped = dropped_;
  dropped_ = 0;
  return dropped;
}

uint16_t backlogMessage(JsonWriter& out, const OfflineBuffer& buffer, uint16_t maxItems, uint32_t boot,
                        const Clock& clock) {
  out.reset();
  if (buffer.empty() || !clock.known() || !maxItems) return 0;
  uint16_t count = buffer.size() < maxItems ? buffer.size() : maxItems;
  // Try the most that may fit; if the text does not fit, try again with fewer (a chunk is at most ~100 items).
  while (count) {
    out.reset();
    out.openArray();
    for (uint16_t i = 0; i < count; ++i) {
      const StallSample& sample = buffer.at(i);
      stallReading(out, sample, boot, clock.epochMsAt(sample.takenMs));
    }
    out.closeArray();
    if (out.ok()) return count;
    count = static_cast<uint16_t>(count / 2);
  }
  out.reset();
  return 0;
}

}  // namespace kiosk
