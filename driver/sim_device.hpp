// SimDevice: the pipeline RTL Verilated (sim/verilated/harness.cpp, one shared library per geometry, built by
// sim/verilated/build.py) behind the Device interface. The library is opened with dlopen and driven through
// its C ABI; it stays loaded for the life of the process (a Verilated model keeps thread-local state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "device.hpp"

namespace tickgate::driver {

/// The functions of a harness library (its C ABI, version kHarnessAbi).
struct HarnessAbi {
  using Handle = void*;
  int (*abi_version)();
  std::size_t (*counter_count)();
  Handle (*create)(std::uint32_t quiet);
  void (*destroy)(Handle);
  void (*reset)(Handle);
  void (*set_quiet)(Handle, std::uint32_t);
  int (*write_reg)(Handle, std::uint32_t, std::uint32_t);
  int (*read_reg)(Handle, std::uint32_t, std::uint32_t*);
  std::int64_t (*feed)(Handle, const std::uint8_t*, std::size_t);
  std::size_t (*pending)(Handle);
  std::size_t (*take_events)(Handle, std::uint8_t*, std::size_t);
  void (*counters)(Handle, std::uint64_t*);
  std::uint64_t (*cycles)(Handle);
};

/// The Verilated pipeline (input "dma") as a Device. `counter_names`: the register-map counters its
/// `counters` port holds, in port order (hdl.pipeline.pipeline_counters("dma")); counters() reads them from
/// the port (no clock cycles spent), the others read 0 as on the card. A feed runs the clock until the
/// pipeline has been quiet (no event, no counter change) for `quiet` cycles. Registers go through the
/// AXI-Lite port; reset() resets the pipeline, drops waiting events and writes again every register
/// written since it was made, so the configuration survives (as SoftwareDevice's does).
class SimDevice final : public Device {
 public:
  static constexpr int kHarnessAbi = 1;

  SimDevice(const std::string& library, const std::vector<std::string>& counter_names, std::uint32_t quiet);
  ~SimDevice() override;

  std::size_t submit(std::span<const std::byte> batch) override;
  std::size_t collect(std::span<events::Event> out) override;
  std::size_t pending() override;
  std::uint32_t read_register(std::uint32_t offset) override;
  void write_register(std::uint32_t offset, std::uint32_t value) override;
  void reset() override;
  DeviceIdentity identify() override;
  std::array<std::uint64_t, regs::kCounterCount> counters() override;
  void close() override;

  /// Clock cycles simulated since the model was made.
  std::uint64_t cycles();
  /// Cycles spent simulating submitted batches (the rest: register accesses, reset).
  std::uint64_t busy_cycles() const noexcept { return busy_cycles_; }
  const std::string& library() const noexcept { return library_; }

 private:
  void* live() const;  // the model, or DeviceError if closed

  std::string library_;
  const HarnessAbi* abi_;
  void* sim_ = nullptr;
  std::vector<std::size_t> counter_index_;  // port word i -> index in regs::kCounters
  std::vector<std::uint64_t> port_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> writes_;  // replayed after reset()
  std::uint64_t busy_cycles_ = 0;
};

}  // namespace tickgate::driver
