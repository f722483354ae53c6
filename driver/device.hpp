// The device interface every implementation of the card implements (software, sim, f2, f1; the Python reference
// model through an adapter with the same operations): DMA batches in, 64-byte events out, 32-bit registers
// of protocol/registers.py by offset, counters, reset, identify, close. Code above it never asks which.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>

#include "event_tap.hpp"
#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// A device failed in a way the caller should hear about: the message says which device, what happened
/// and what to check. `kind` lets callers tell the cases apart without parsing the text.
class DeviceError : public std::runtime_error {
 public:
  enum class Kind { kNotFound, kWrongImage, kGone, kIo, kTimeout, kRefused };
  DeviceError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

/// What a device is: which backend, where, the IDs it answered with and its capacities (0: unbounded).
struct DeviceIdentity {
  std::string backend;  // "software", "sim", "f2", "f1"
  std::string location;  // f2, f1: the application function's PCI address; sim: its library; software: "in-process"
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::uint16_t subsystem_vendor_id = 0;
  std::uint16_t subsystem_id = 0;
  std::uint32_t id = 0;  // the `id` register (regs::kIdMagic)
  std::uint32_t map_version = 0;  // the `map_version` register
  std::uint32_t cap_orders = 0;
  std::uint32_t cap_levels = 0;
  std::uint32_t cap_symbols = 0;
};

/// One card, whatever implements it. Not thread-safe: one thread drives a device (lock around it).
class Device {
 public:
  virtual ~Device() = default;
  Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  /// Hands a DMA batch (protocol.moldudp64.pack_dma: per packet a 16-byte header, the packet, padding to
  /// 8 bytes) to the card, all of it; returns its size in bytes. Events it causes wait for collect().
  virtual std::size_t submit(std::span<const std::byte> batch) = 0;

  /// Moves up to out.size() waiting events into `out`, in order; returns how many.
  virtual std::size_t collect(std::span<events::Event> out) = 0;

  /// collect(), then the attached tap (if any) sees what was collected: every caller that hands events on
  /// (the bindings, the native receiver) collects through this.
  std::size_t take(std::span<events::Event> out) {
    const std::size_t n = collect(out);
    if (tap_ != nullptr && n != 0) tap_->on_events(out.first(n));
    return n;
  }

  /// The tap that sees collected events (the native order path: fired orders); nullptr detaches. The caller
  /// keeps it alive while attached.
  void set_tap(EventTap* tap) noexcept { tap_ = tap; }
  EventTap* tap() const noexcept { return tap_; }

  /// Events waiting to be collected.
  virtual std::size_t pending() = 0;

  /// The 32-bit register at byte `offset` of regs::kRegisters (a 64-bit one is two: low word first).
  virtual std::uint32_t read_register(std::uint32_t offset) = 0;
  virtual void write_register(std::uint32_t offset, std::uint32_t value) = 0;

  /// Clears the counters and drops the events waiting; see each backend for what else it resets.
  virtual void reset() = 0;

  virtual DeviceIdentity identify() = 0;

  /// Waits until the events of everything submitted can be collected. A card working on its own clock
  /// (f1) needs this; the in-process devices are done when submit() returns.
  virtual void settle() {}

  /// Releases what the device holds (the model, files, mappings); later calls fail. Closing twice is fine.
  virtual void close() {}

  /// A 64-bit register (low word at `offset`), read so that a carry between the halves is not torn.
  std::uint64_t read_register64(std::uint32_t offset) {
    std::uint32_t hi = read_register(offset + 4);
    for (;;) {
      const std::uint32_t lo = read_register(offset);
      const std::uint32_t hi2 = read_register(offset + 4);
      if (hi2 == hi) return std::uint64_t{hi} << 32 | lo;
      hi = hi2;
    }
  }

  /// Every counter of regs::kCounters, in order (from the registers unless the device has a faster way).
  virtual std::array<std::uint64_t, regs::kCounterCount> counters() {
    std::array<std::uint64_t, regs::kCounterCount> out{};
    for (std::size_t i = 0; i < regs::kCounters.size(); ++i) out[i] = read_register64(regs::kCounters[i].offset);
    return out;
  }

 private:
  EventTap* tap_ = nullptr;
};

/// The register at `offset`, or nullptr if none starts or continues there (a 64-bit one covers two words).
inline const regs::Register* register_at(std::uint32_t offset) noexcept {
  for (const regs::Register& r : regs::kRegisters) {
    if (offset >= r.offset && offset < r.offset + r.width / 8 && (offset - r.offset) % 4 == 0) return &r;
  }
  return nullptr;
}

/// "name" of the register at `offset` (with "+4" for a high word), or the offset in hex.
inline std::string register_name(std::uint32_t offset) {
  const regs::Register* r = register_at(offset);
  if (r == nullptr) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%#x", offset);
    return std::string("offset ") + buf;
  }
  return std::string(r->name) + (offset != r->offset ? " (high word)" : "");
}

}  // namespace tickgate::driver
