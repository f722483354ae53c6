// The f1 backend: the card on an AWS F1 slot, registers through BAR0 (sysfs resource0), packets and events
// through the XDMA character devices. Finding the slot and checking its IDs: f1_scan.hpp.
//
// Per batch: read `ingress_free`, pwrite at most that many bytes into the ingress window, repeat; when the
// card takes nothing, drain ready events (so a full egress buffer never stalls it) and wait, up to the
// timeout. Events: read `events_ready`, pread that many 64-byte records from the egress window. Transfers
// may be short (continued), EINTR is retried, EIO/ETIMEDOUT and the timeout become DeviceErrors naming the
// device path and what to check; a register reading 0xFFFFFFFF where the card never gives it (`id`,
// `map_version`, `ingress_free`, `events_ready`) means the card is gone (kGone).
//
// F1 is legacy (AWS retired the instances); the F2 card has no XDMA and its own backend, f2_device.hpp, which
// shares this one's slot scan (f1_scan.hpp, with the F2 slot rule) and BAR0 access (bar_registers.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bar_registers.hpp"
#include "device.hpp"
#include "f1_io.hpp"
#include "f1_scan.hpp"

namespace tickgate::driver {

struct F1Options {
  std::string sysfs_root = "/sys/bus/pci/devices";
  std::string dev_dir = "/dev";
  int slot = 0;
  std::chrono::milliseconds timeout{10000};  // longest wait for the card to take bytes
};

class F1Device final : public Device {
 public:
  /// Finds slot options.slot, checks its IDs against `image`, maps resource0, checks `id` and `map_version`,
  /// opens the XDMA channel 0 devices. Throws DeviceError (kNotFound, kWrongImage, kGone, kIo) saying why.
  F1Device(F1Layout layout, F1Image image, F1Options options, std::shared_ptr<PosixIo> io);
  ~F1Device() override = default;

  std::size_t submit(std::span<const std::byte> batch) override;
  std::size_t collect(std::span<events::Event> out) override;
  std::size_t pending() override;
  std::uint32_t read_register(std::uint32_t offset) override;
  void write_register(std::uint32_t offset, std::uint32_t value) override;
  /// Clears the counters (control bit 1) and drops every event waiting. Books and session live in the
  /// image: map version 3 has no register that empties them (reload the image for that).
  void reset() override;
  DeviceIdentity identify() override;
  /// Waits until the card's `packets` counter reaches the packets submitted (each DMA record is one packet),
  /// drawing ready events into the device meanwhile; returns early if the card has taken every byte and
  /// gone quiet short of that count (the rest was lost to DMA framing, counted under dma_*). A card that
  /// keeps bytes and makes no progress for the timeout raises kTimeout.
  void settle() override;
  /// Unmaps BAR0 and closes the XDMA files.
  void close() override;

  const F1Slot& slot() const noexcept { return slot_; }
  std::string h2c_path() const;
  std::string c2h_path() const;

 private:
  std::uint32_t live(std::uint32_t offset) { return bar().live(offset); }
  BarRegisters& bar();  // kGone if closed
  void write_all(const std::byte* data, std::size_t n);
  void read_all(std::byte* data, std::size_t n);
  [[noreturn]] void io_failed(const char* call, const std::string& path, int err, std::size_t done,
                              std::size_t n) const;
  bool drain();  // ready events into spill_; false if none were ready
  void pause(int& idle) const;

  F1Layout layout_;
  F1Image image_;
  F1Options options_;
  std::shared_ptr<PosixIo> io_;
  F1Slot slot_;
  std::unique_ptr<BarRegisters> bar_;  // BAR0; null once closed
  /// The open XDMA files, closed (through io) when the device goes, or when its constructor throws halfway.
  struct Handles {
    PosixIo* io = nullptr;
    int h2c_fd = -1;
    int c2h_fd = -1;
    Handles() = default;
    Handles(const Handles&) = delete;
    Handles& operator=(const Handles&) = delete;
    ~Handles();
    void release();
  } h_;
  std::uint64_t submitted_ = 0;  // what the `packets` counter reads once every submitted packet is processed
  std::uint32_t ingress_capacity_ = 0;  // ingress_free of the idle card
  std::vector<events::Event> spill_;  // events drained while submitting, collected first
  std::size_t spill_head_ = 0;
};

}  // namespace tickgate::driver
