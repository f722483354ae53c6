// From a file to a device with no Python per packet: a PacketFeed's packets gathered into DMA batches
// (protocol.moldudp64.pack_dma's layout, from the generated mold::DmaHeader) and handed to any Device, its
// events collected into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "device.hpp"
#include "dma_batch.hpp"
#include "reader_feed.hpp"

namespace tickgate::driver {

/// A feed read as DMA batches. Memory is bounded by one batch and the feed's read window.
class DmaFeed {
 public:
  static constexpr std::size_t kBatchPackets = 512;  // as host.backend.Backend.BATCH_PACKETS
  static constexpr std::size_t kBatchBytes = std::size_t{1} << 20;

  explicit DmaFeed(std::unique_ptr<PacketFeed> feed, std::size_t batch_packets = kBatchPackets)
      : feed_(std::move(feed)), batch_packets_(batch_packets) {}

  /// The next batch of at most batch_packets packets (empty at the end of the feed); valid until the next
  /// call. A packet longer than the DMA header's 16-bit length can say is left out and counted (`refused`).
  std::span<const std::byte> next_batch();
  std::size_t batch_packet_count() const noexcept { return batch_.packets(); }

  /// Fills `out` with the device's events, feeding it batches as it drains; returns how many were written.
  /// Fewer than out.size() only at the end: 0 once the feed is done and the device has nothing left.
  std::size_t run(Device& device, std::span<events::Event> out);

  /// Runs the whole feed through `device`, appending its events as raw 64-byte records to the file `fd`
  /// (-1: dropped) from the fd's current position, while the device works on the next `chunk_events` (one
  /// chunk written on a thread of its own while the next is collected); returns how many. Memory is bounded
  /// by two chunks. Throws std::system_error if a write fails.
  std::uint64_t run_to_fd(Device& device, int fd, std::size_t chunk_events = std::size_t{1} << 16);

  bool done() const noexcept { return done_; }
  std::uint64_t packets() const noexcept { return packets_; }
  /// Packets longer than mold::kMaxPacket, never sent (host.backend.Backend counts them packets_oversize).
  std::uint64_t refused() const noexcept { return refused_; }
  const PacketFeed& feed() const noexcept { return *feed_; }

 private:
  std::unique_ptr<PacketFeed> feed_;
  std::size_t batch_packets_;
  DmaBatch batch_{kBatchBytes + 2 * 0x10000};
  std::uint64_t packets_ = 0, refused_ = 0;
  bool done_ = false;
};

}  // namespace tickgate::driver
