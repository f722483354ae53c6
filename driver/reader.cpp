// DmaFeed: packets into DMA batches, batches into a Device, events out.
#include "reader.hpp"

namespace tickgate::driver {

std::span<const std::byte> DmaFeed::next_batch() {
  batch_.clear();
  PacketRef p;
  while (!done_ && batch_.packets() < batch_packets_ && batch_.size() < kBatchBytes) {
    if (!feed_->next(p)) {
      done_ = true;
      break;
    }
    if (p.size() > mold::kMaxPacket) {  // as host.backend.Backend refuses it: counted packets_oversize
      ++refused_;
      continue;
    }
    batch_.append(p.head, p.body, p.rx_ns);
  }
  packets_ += batch_.packets();
  return batch_.bytes();
}

std::size_t DmaFeed::run(Device& device, std::span<events::Event> out) {
  std::size_t n = 0;
  for (;;) {
    n += device.collect(out.subspan(n));
    if (n == out.size()) return n;
    if (done_) {  // everything submitted: settle, then what is left, as far as `out` holds it
      device.settle();
      while (n < out.size()) {
        const std::size_t more = device.collect(out.subspan(n));
        if (more == 0) break;
        n += more;
      }
      return n;
    }
    const auto batch = next_batch();
    if (!batch.empty()) device.submit(batch);
  }
}

}  // namespace tickgate::driver
