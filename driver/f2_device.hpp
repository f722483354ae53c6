// The f2 backend: the card in an AWS F2 slot, with no system call on the data path (protocol/f2_map.py is the
// contract). Registers through BAR0 (BarRegisters, as f1). Packets: DMA batches stored into the ingress window
// of BAR4, mapped write-combining (resource4_wc), as whole 64-byte lines and 8-byte stores for a batch's last
// partial line, a store fence between lines (write-combining buffers may otherwise drain out of order into a
// port where order counts) and one after the piece. Each fenced piece starts at a line boundary of the window (after a
// partial line the cursor moves on to the next line: the lanes not stored carry no strobes), and the cursor
// walks the window, wrapping at its end (the window is a FIFO port: order counts, addresses do not; walking
// it keeps two pieces' lines from combining in one write-combining buffer). `ingress_free` is free FIFO
// entries of one 64-byte beat each; a piece takes one entry per whole line and, since a partial line's
// write-combining buffer may leave in up to one beat per 8-byte store, one per word of its partial line. Events: the
// card writes 64-byte records into a ring in pinned host memory (F2Io::pin_ring) and then a head line with
// its producer index; collect reads the head line from memory, copies records out and stores the consumer
// index into `ring_consumer` (a posted write). Finding the slot and checking its IDs: scan_slots with the
// F2 rule (application function 0 of the management function's device).
//
// Errors: no slot or not the image (kNotFound, kWrongImage, as f1); BAR0 reading all ones (kGone); a ring
// the card never announces (no head line of producer 0 after the reset) or a card that takes no bytes or
// makes no progress for the timeout (kTimeout); a producer index that moves backwards or runs more than the
// ring ahead of the consumer (kIo: the ring protocol is broken, nothing read from it can be trusted).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bar_registers.hpp"
#include "device.hpp"
#include "f1_scan.hpp"
#include "f2_io.hpp"

namespace tickgate::driver {

struct F2Options {
  std::string sysfs_root = "/sys/bus/pci/devices";
  int slot = 0;
  std::chrono::milliseconds timeout{10000};  // longest wait for the card (bytes taken, ring announced, progress)
  /// log2 of the ring's records; 0: 2**kAutoRingLog2 (2 MiB, a hugepage) if it can be pinned, else one page
  unsigned ring_log2 = 0;
  static constexpr unsigned kAutoRingLog2 = 15;
};

class F2Device final : public Device {
 public:
  /// The F2 slot rule and IDs of protocol/f2_map.py as scan_slots takes them.
  static F1Layout layout() noexcept;

  /// Finds slot options.slot, checks its IDs against `image`, maps BAR0 and checks `id` and `map_version`,
  /// maps the ingress window of resource4_wc, enables bus mastering, pins the ring and announces it to the
  /// card (ring registers, ring_control = ENABLE | RESET), waiting for its head line of producer 0.
  F2Device(F1Image image, F2Options options, std::shared_ptr<F2Io> io);
  ~F2Device() override;

  std::size_t submit(std::span<const std::byte> batch) override;
  std::size_t collect(std::span<events::Event> out) override;
  std::size_t pending() override;
  std::uint32_t read_register(std::uint32_t offset) override;
  void write_register(std::uint32_t offset, std::uint32_t value) override;
  /// Clears the counters, drops the events in the ring and the device, and resets the ring (indices to 0).
  void reset() override;
  DeviceIdentity identify() override;
  /// Waits until the card has counted every packet submitted and every event it counted has reached the ring
  /// (records + pcim_errors = `events`), draining a ring at least half full into the device meanwhile so the
  /// card never stalls on it (what is left in the ring, collect copies straight out of it);
  /// returns early if the card took every byte and went quiet short of the packet count (framing lost, see
  /// dma_*). No progress for the timeout: kTimeout.
  void settle() override;
  /// Stops the card writing host memory (ring_control = 0), unmaps the BARs, unpins the ring.
  void close() override;

  const F1Slot& slot() const noexcept { return slot_; }
  std::string window_path() const;
  const HostRing& ring() const noexcept { return ring_; }
  std::size_t ring_records() const noexcept { return records_; }

 private:
  BarRegisters& bar();
  std::uint32_t live(std::uint32_t offset) { return bar().live(offset); }
  void map_window();
  void pin();  // the ring of options.ring_log2 (0: the largest of kAutoRingLog2 and one page that can be pinned)
  void enable_bus_master();
  void announce();  // ring registers, ENABLE | RESET, wait for the head line of producer 0
  void store(const std::byte* data, std::size_t n);  // into the window at the cursor, then the fence
  /// Bytes of the `rest` of a batch to store now with `free_lines` free entries (0: none fit yet).
  static std::size_t fits(std::size_t rest, std::size_t free_lines) noexcept;
  std::uint32_t producer();  // the head line's index, checked against the consumer
  std::size_t take(events::Event* out, std::size_t max);  // records out of the ring, consumer stored
  bool drain();  // ring records into spill_; false if none
  void pause(int& idle) const;
  [[noreturn]] void timeout(const std::string& what) const;
  std::string where() const;

  F1Image image_;
  F2Options options_;
  std::shared_ptr<F2Io> io_;
  F1Slot slot_;
  std::unique_ptr<BarRegisters> bar_;
  int window_fd_ = -1;
  std::byte* window_ = nullptr;  // the ingress window of BAR4, write-combining
  std::size_t window_len_ = 0;
  std::size_t cursor_ = 0;  // byte offset in the window of the next store
  HostRing ring_;
  std::size_t records_ = 0;
  std::uint32_t consumer_ = 0;  // records taken, modulo 2**32 (what ring_consumer holds)
  std::uint32_t last_producer_ = 0;
  std::uint64_t received_ = 0;  // records taken since the counters were cleared
  std::uint64_t submitted_ = 0;  // packets submitted since the counters were cleared
  std::uint32_t ingress_capacity_ = 0;  // ingress_free of the idle card
  std::vector<events::Event> spill_;  // records drained while waiting, collected first
  std::size_t spill_head_ = 0;
};

}  // namespace tickgate::driver
