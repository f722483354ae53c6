// BarRegisters: BAR0 of a card mapped, checked, read and written (see bar_registers.hpp).
#include "bar_registers.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>

namespace tickgate::driver {

using Kind = DeviceError::Kind;

BarRegisters::BarRegisters(PosixIo& io, std::string resource0, const F1Slot& slot, std::string backend)
    : io_(io), path_(std::move(resource0)), slot_(slot), backend_(std::move(backend)) {
  fd_ = io_.open(path_, O_RDWR | O_SYNC);
  if (fd_ < 0) {
    const int err = errno;
    const std::string hint = err == EACCES || err == EPERM ? "run as root or give this user access to it"
                                                           : "is BAR0 of the application function enabled?";
    throw DeviceError(Kind::kIo, "cannot open " + path_ + ": " + errno_text(err) + ": " + hint);
  }
  len_ = (regs::kMapSize + 4095) / 4096 * 4096;
  bar_ = io_.mmap(len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (bar_ == MAP_FAILED) {
    const int err = errno;
    bar_ = nullptr;
    io_.close(fd_);
    fd_ = -1;
    throw DeviceError(Kind::kIo, "cannot mmap " + path_ + ": " + errno_text(err));
  }
}

void BarRegisters::release() noexcept {
  if (bar_ != nullptr) io_.munmap(bar_, len_);
  if (fd_ >= 0) io_.close(fd_);
  bar_ = nullptr;
  fd_ = -1;
}

void BarRegisters::check_image(const F1Image& image) {
  const std::string where = "slot " + std::to_string(slot_.index) + " (" + slot_.app_address + ")";
  const std::uint32_t id = live(regs::offset::id);
  if (id != regs::kIdMagic) {
    throw DeviceError(Kind::kWrongImage, where + ": register id reads " + hex32(id) + ", tickgate's image has " +
                                             hex32(regs::kIdMagic) + " ('TKGT'): another design is loaded");
  }
  const std::uint32_t version = live(regs::offset::map_version);
  if (version != image.map_version || version != regs::kMapVersion) {
    throw DeviceError(Kind::kWrongImage,
                      where + ": register map version " + std::to_string(version) + ", the manifest says " +
                          std::to_string(image.map_version) + " and this build of tickgate speaks " +
                          std::to_string(regs::kMapVersion) +
                          ": load the image built from this version, or use the matching tickgate");
  }
}

void BarRegisters::closed() const {
  throw DeviceError(Kind::kGone, "the " + backend_ + " device of slot " + std::to_string(slot_.index) + " is closed");
}

void BarRegisters::gone(std::uint32_t offset) const {
  throw DeviceError(Kind::kGone, "the card in slot " + std::to_string(slot_.index) + " (" + slot_.app_address +
                                     ") stopped answering: register " + register_name(offset) +
                                     " read 0xffffffff; the image may have been cleared or reloaded, or the PCIe "
                                     "link reset: check `fpga-describe-local-image -S " + std::to_string(slot_.index) +
                                     " -H`, then open the backend again");
}

DeviceIdentity BarRegisters::identity() {
  DeviceIdentity d;
  d.backend = backend_;
  d.location = slot_.app_address;
  d.vendor_id = slot_.vendor_id;
  d.device_id = slot_.device_id;
  d.subsystem_vendor_id = slot_.subsystem_vendor_id;
  d.subsystem_id = slot_.subsystem_id;
  d.id = live(regs::offset::id);
  d.map_version = live(regs::offset::map_version);
  d.cap_orders = read(regs::offset::cap_orders);
  d.cap_levels = read(regs::offset::cap_levels);
  d.cap_symbols = read(regs::offset::cap_symbols);
  return d;
}

std::uint32_t BarRegisters::read(std::uint32_t offset) {
  if (offset % 4 || offset >= regs::kMapSize) {
    throw DeviceError(Kind::kRefused, "no register at " + register_name(offset) + " (offsets are 32-bit words below " +
                                          hex32(regs::kMapSize) + ")");
  }
  if (bar_ == nullptr) closed();
  const std::uint32_t v = load(offset);
  if (v == 0xFFFFFFFFu && load(regs::offset::id) == 0xFFFFFFFFu) gone(offset);  // a real all-ones value is fine
  return v;
}

void BarRegisters::write(std::uint32_t offset, std::uint32_t value) {
  const regs::Register* r = register_at(offset);
  if (r == nullptr || r->access != regs::Access::kRw) {
    throw DeviceError(Kind::kRefused, "register " + register_name(offset) + " is not writable (protocol/registers.py)");
  }
  if (bar_ == nullptr) closed();
  store(offset, value);
}

}  // namespace tickgate::driver
