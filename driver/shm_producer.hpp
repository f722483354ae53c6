// The shared-memory event ring's producer: the host publishes each batch of events it delivers into a POSIX
// shared-memory segment that local readers (shm_reader.hpp, tickgate.host.shm) poll. Lock-free, one producer;
// it never waits for a reader. Layout and protocol: protocol/shm_ring.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "shm_reader.hpp"
#include "tickgate/protocol.hpp"

namespace tickgate::shm {

/// The one producer of a segment. Opening makes the segment (`records` records, a power of two) or, when one
/// of the same layout exists, takes it over as a restart: its indices continue and its epoch goes up by one.
/// A segment of another layout is marked stale and replaced. A second live producer of a name is refused.
/// Closing marks the segment closed and leaves it for readers (unlink() removes the name).
class Producer {
 public:
  Producer(const std::string& name, std::size_t records);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  /// Publish `batch` (a batch larger than the ring: its last capacity() records, the rest counted published).
  void publish(std::span<const events::Event> batch) noexcept;
  /// Mark the segment closed (readers can still drain it) and unmap it; idempotent.
  void close() noexcept;
  /// Remove the segment's name (mapped readers keep their mapping).
  void unlink() noexcept;

  std::uint64_t head() const noexcept { return head_; }
  std::uint64_t epoch() const noexcept;
  std::uint64_t capacity() const noexcept { return capacity_; }
  /// Whether opening took over an existing segment (a restart) rather than making one.
  bool reopened() const noexcept { return reopened_; }
  /// Readers holding a slot now (a diagnostic: the producer never waits for them).
  std::size_t readers() const;
  const std::string& name() const noexcept { return name_; }

 private:
  bool take_over(std::size_t bytes);
  void make(std::size_t bytes);

  std::string name_;
  Fd fd_;
  Mapping map_;
  events::Event* records_ = nullptr;
  ProducerLine* line_ = nullptr;
  std::uint64_t capacity_ = 0, mask_ = 0, head_ = 0, claim_ = 0;
  bool reopened_ = false, open_ = false;
};

}  // namespace tickgate::shm
