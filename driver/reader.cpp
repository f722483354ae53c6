// DmaFeed: packets into DMA batches, batches into a Device, events out.
#include "reader.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace tickgate::driver {

std::span<const std::byte> DmaFeed::next_batch() {
  using D = mold::DmaHeader;
  if (batch_.capacity() < kBatchBytes + 2 * 0x10000) batch_.reserve(kBatchBytes + 2 * 0x10000);
  batch_.clear();
  batch_count_ = 0;
  PacketRef p;
  while (!done_ && batch_count_ < batch_packets_ && batch_.size() < kBatchBytes) {
    if (!feed_->next(p)) {
      done_ = true;
      break;
    }
    const std::size_t n = p.size();
    if (n > 0xFFFF) {
      throw std::length_error("a packet of " + std::to_string(n) +
                              " bytes does not fit the DMA header's 16-bit length (at most 65535)");
    }
    const std::size_t at = batch_.size();
    const std::size_t padded = (D::kLength + n + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
    batch_.resize(at + padded);
    std::byte* b = batch_.data() + at;
    std::memset(b, 0, D::kLength);
    D::set_length(b, static_cast<std::uint16_t>(n));
    D::set_rx_time_ns(b, p.rx_ns);
    std::memcpy(b + D::kLength, p.head.data(), p.head.size());
    std::memcpy(b + D::kLength + p.head.size(), p.body.data(), p.body.size());
    std::memset(b + D::kLength + n, 0, padded - D::kLength - n);
    ++batch_count_;
  }
  packets_ += batch_count_;
  return batch_;
}

std::size_t DmaFeed::run(Device& device, std::span<events::Event> out) {
  std::size_t n = 0;
  for (;;) {
    n += device.collect(out.subspan(n));
    if (n == out.size()) return n;
    if (done_) {
      if (device.pending() == 0) return n;
      continue;
    }
    const auto batch = next_batch();
    if (!batch.empty()) device.submit(batch);
  }
}

}  // namespace tickgate::driver
