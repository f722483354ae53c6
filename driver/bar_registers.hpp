// The register map of a card's BAR0 (sysfs resource0), mapped into the process: what the f1 and f2 backends
// share. Opening maps it and checks the `id` and `map_version` registers against the image; reads are plain
// loads, writes plain stores (only to read-write registers of protocol/registers.py). A register reading
// 0xFFFFFFFF where the card never gives it (`id`, `map_version`, `ingress_free`, ...) means the card is gone
// (the PCIe read was not answered): DeviceError kGone naming the slot and what to check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "device.hpp"
#include "f1_io.hpp"
#include "f1_scan.hpp"

namespace tickgate::driver {

class BarRegisters {
 public:
  /// Opens and maps `resource0` of `slot` through `io` (kept by reference: it outlives this); throws
  /// DeviceError kIo (with what to do) if it cannot. `backend` ("f1", "f2") names the device in messages.
  BarRegisters(PosixIo& io, std::string resource0, const F1Slot& slot, std::string backend);
  ~BarRegisters() { release(); }
  BarRegisters(const BarRegisters&) = delete;
  BarRegisters& operator=(const BarRegisters&) = delete;

  /// `id` must read tickgate's magic and `map_version` the image's and this build's; kWrongImage if not.
  void check_image(const F1Image& image);

  std::uint32_t load(std::uint32_t offset) const noexcept {
    return *reinterpret_cast<const volatile std::uint32_t*>(static_cast<const std::byte*>(bar_) + offset);
  }
  void store(std::uint32_t offset, std::uint32_t value) noexcept {
    *reinterpret_cast<volatile std::uint32_t*>(static_cast<std::byte*>(bar_) + offset) = value;
  }
  /// A register the card never reads as 0xFFFFFFFF; kGone if it does, and if closed.
  std::uint32_t live(std::uint32_t offset) {
    if (bar_ == nullptr) closed();
    const std::uint32_t v = load(offset);
    if (v == 0xFFFFFFFFu) gone(offset);
    return v;
  }
  /// Device::read_register: any word of the map (kRefused outside it); all ones is fine unless `id` reads so too.
  std::uint32_t read(std::uint32_t offset);
  /// Device::write_register: read-write registers only (kRefused otherwise).
  void write(std::uint32_t offset, std::uint32_t value);
  /// Device::identify: the backend, the slot's address and IDs, and the card's id, map version and capacities.
  DeviceIdentity identity();

  bool is_open() const noexcept { return bar_ != nullptr; }
  const std::string& path() const noexcept { return path_; }
  void release() noexcept;

  [[noreturn]] void gone(std::uint32_t offset) const;
  [[noreturn]] void closed() const;

 private:
  PosixIo& io_;
  std::string path_;
  F1Slot slot_;
  std::string backend_;
  int fd_ = -1;
  void* bar_ = nullptr;
  std::size_t len_ = 0;
};

}  // namespace tickgate::driver
