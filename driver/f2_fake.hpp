// FakeF2Card: the test double of an F2 card (the only mock: the card cannot exist on a test machine). It is an
// F2Io (f2_io.hpp): it serves the slot's resource0 (BAR0) and resource4_wc (the ingress window) as memory,
// hands out host memory for the ring at made-up bus addresses, and plays the card from a SoftwareDevice:
// every other path (sysfs ID files, the PCI config file) goes to the real system calls, on real files of a
// temporary tree (driver/f2_fake_tree.py).
//
// The card moves only inside store_fence (where it takes the bytes the host stored into the window since the
// last fence, in store order, from its own cursor that wraps as the host's does and moves on to the next line
// after a partial one) and poll_pause: no threads,
// no clocks. Each time it applies register writes (control bit 1 clears the counters; ring_control RESET sets
// the producer to 0 and, if ENABLE, writes a head line of producer 0), feeds whole DMA records to the model
// while fewer than `egress_capacity` events wait inside the card, and writes events into the ring as
// protocol/f2_map.py says: only at the bus addresses the registers give (others count pcim_errors and lose
// the record), record i at 64 * (i % records), never a record the host has not consumed (`ring_consumer`):
// with the ring full the next event is held and counted once under ring_full; then the head line with the
// producer index. Faults are injected after `fail_after` fences + pauses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "device_software.hpp"
#include "f2_io.hpp"
#include "fake_bar0.hpp"
#include "fake_files.hpp"

namespace tickgate::driver {

enum class FakeF2Fault {
  kNone,
  kGone,  // every register reads 0xFFFFFFFF, stores vanish, nothing more reaches host memory
  kStall,  // the pipeline stops: no byte taken, no event written
  kMute,  // nothing is written to host memory (not even the head line of a ring reset)
  kBackwards,  // the head line's producer index moves back by 1 from the last one written
  kJump,  // the head line's producer index runs a ring and one past the consumer
};

struct FakeF2Config {
  std::string resource0;  // the paths served (they must exist as files)
  std::string window;  // resource4_wc
  SoftwareCardConfig card;
  std::size_t ingress_capacity = 1 << 16;  // bytes
  std::size_t egress_capacity = 1 << 12;  // events the card holds before the pipeline back-pressures
  std::uint32_t id = regs::kIdMagic;  // what the id and map_version registers read
  std::uint32_t map_version = regs::kMapVersion;
  FakeF2Fault fault = FakeF2Fault::kNone;
  std::size_t fail_after = 0;  // fences + pauses served before the fault
};

/// What the fake saw and did; host protocol violations are counted, never hidden.
struct FakeF2Stats {
  std::size_t fences = 0;
  std::size_t pauses = 0;
  std::size_t bytes_in = 0;
  std::size_t records_written = 0;
  std::size_t head_writes = 0;
  std::size_t wraps = 0;  // records written at index 0 of the ring after the first lap
  std::size_t overruns = 0;  // fences publishing more beats than ingress_free had entries (a partial line's
                             // words count a beat each); bytes past the buffer's room are lost
  std::size_t bad_addresses = 0;  // writes the registers pointed outside the memory pin_ring gave
  std::size_t late_writes = 0;  // writes due while the ring was unpinned with ring_control still enabled
};

class FakeF2Card final : public F2Io {
 public:
  /// Bus addresses the fake hands out: above 4 GiB (so the _hi registers matter), the head line inside a page.
  static constexpr std::uint64_t kRingBus = 0x3'8000'0000;
  static constexpr std::uint64_t kHeadBus = 0x3'9000'0040;

  explicit FakeF2Card(FakeF2Config config);

  int open(const std::string& path, int flags) override;
  ssize_t pread(int fd, void* buf, std::size_t count, off_t offset) override;
  ssize_t pwrite(int fd, const void* buf, std::size_t count, off_t offset) override;
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override;
  int munmap(void* addr, std::size_t length) override;
  int close(int fd) override;

  HostRing pin_ring(std::size_t ring_bytes) override;
  void unpin_ring(HostRing& ring) noexcept override;
  void store_fence(std::size_t bytes) noexcept override;
  void poll_pause() noexcept override;

  const FakeF2Stats& stats() const noexcept { return stats_; }
  /// Injects `fault` after `after` more fences + pauses (kNone: stops new faults, heals nothing).
  void inject(FakeF2Fault fault, std::size_t after);
  SoftwareDevice& model() noexcept { return model_; }
  std::uint32_t producer() const noexcept { return producer_; }

 private:
  struct alignas(64) Line {
    std::byte b[64];
  };
  enum Served { kResource0, kWindow, kServed };
  using Files = FakeFiles<kServed>;

  bool tick();  // counts a fence or pause; true if the card is faulted (and so does not move normally)
  void step();
  void feed();
  bool write_events();  // true if any record was written
  std::byte* host(std::uint64_t bus, std::size_t bytes);  // the pinned memory at a bus address, or null
  void write_head();
  void refresh();
  std::uint32_t& word(std::uint32_t offset) noexcept { return bar_.word(offset); }

  FakeF2Config config_;
  SoftwareDevice model_;
  SystemIo real_;
  FakeBar0 bar_;  // BAR0 as the host sees it
  std::vector<Line> window_;  // the ingress window as the host sees it
  std::size_t window_cursor_ = 0;
  Files files_;  // the served paths (resource0, the DMA files)
  std::vector<std::byte> ingress_;  // bytes taken, not yet fed
  std::vector<Line> ring_;  // host memory handed out by pin_ring
  std::vector<events::Event> outgoing_;  // events on their way into the ring
  Line head_{};
  bool pinned_ = false;
  std::uint32_t producer_ = 0;
  std::uint32_t announced_ = 0;  // the producer index of the last head line written
  bool held_counted_ = false;  // the event waiting for room has been counted under ring_full
  std::uint64_t ring_full_ = 0;
  std::uint64_t pcim_errors_ = 0;
  std::size_t ops_ = 0;
  bool faulted_ = false;
  FakeF2Stats stats_;
};

}  // namespace tickgate::driver
