// DmaFeed: packets into DMA batches, batches into a Device, events out.
#include "reader.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <future>
#include <system_error>
#include <vector>

namespace tickgate::driver {

namespace {

/// Writes all of `bytes` to `fd`, through partial writes and signals.
void write_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "writing events");
    }
    bytes = bytes.subspan(static_cast<std::size_t>(w));
  }
}

}  // namespace

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

namespace tickgate::driver {

std::uint64_t DmaFeed::run_to_fd(Device& device, int fd, std::size_t chunk_events) {
  if (chunk_events == 0) throw std::invalid_argument("chunk_events must be at least 1");
  std::array<std::vector<events::Event>, 2> chunks{std::vector<events::Event>(chunk_events),
                                                   std::vector<events::Event>(chunk_events)};
  std::future<void> writing;  // the write of the other chunk, if one is under way
  std::uint64_t total = 0;
  for (std::size_t i = 0;; i ^= 1) {
    const std::size_t n = run(device, chunks[i]);
    total += n;
    if (writing.valid()) writing.get();  // the other chunk is free again (or its error is thrown here)
    if (n == 0) return total;
    if (fd >= 0) {
      writing = std::async(std::launch::async, write_all, fd, std::as_bytes(std::span(chunks[i]).first(n)));
    }
  }
}

}  // namespace tickgate::driver
