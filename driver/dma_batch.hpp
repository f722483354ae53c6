// A DMA batch built in memory: per packet a mold::DmaHeader (length, flags, rx time), the packet, zeros to
// mold::kDmaAlign, exactly as protocol.moldudp64.pack_dma lays it out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

class DmaBatch {
 public:
  explicit DmaBatch(std::size_t reserve_bytes = 1 << 16) { bytes_.reserve(reserve_bytes); }

  /// Appends one packet received at `rx_ns` (ns), with the header's `flags` (mold::kDmaLineB: line B). Throws
  /// std::length_error past the header's 16-bit length.
  void append(std::span<const std::byte> packet, std::uint64_t rx_ns, std::uint16_t flags = 0) {
    append(packet, {}, rx_ns, flags);
  }

  /// Appends one packet given in two parts, `head` then `body` (a MoldUDP64 header and its message blocks).
  void append(std::span<const std::byte> head, std::span<const std::byte> body, std::uint64_t rx_ns,
              std::uint16_t flags = 0) {
    using H = mold::DmaHeader;
    const std::size_t n = head.size() + body.size();
    if (n > 0xFFFF) throw std::length_error("a DMA record holds at most 65535 bytes of packet");
    const std::size_t at = bytes_.size();
    const std::size_t record = (H::kLength + n + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
    bytes_.resize(at + record);  // zero-filled: the reserved fields and the padding
    std::byte* h = bytes_.data() + at;
    put_le(h + H::Offset::length, static_cast<std::uint16_t>(n));
    put_le(h + H::Offset::flags, flags);
    put_le(h + H::Offset::rx_time_ns, rx_ns);
    if (!head.empty()) std::memcpy(h + H::kLength, head.data(), head.size());
    if (!body.empty()) std::memcpy(h + H::kLength + head.size(), body.data(), body.size());
    ++packets_;
  }

  void clear() noexcept {
    bytes_.clear();
    packets_ = 0;
  }

  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  std::size_t packets() const noexcept { return packets_; }
  bool empty() const noexcept { return packets_ == 0; }

 private:
  template <class T>
  static void put_le(std::byte* p, T v) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>(v >> (8 * i) & 0xFF);
  }

  std::vector<std::byte> bytes_;
  std::size_t packets_ = 0;
};

}  // namespace tickgate::driver
