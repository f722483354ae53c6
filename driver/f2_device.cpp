// F2Device: finding and checking the slot, mapping the BARs, pinning and announcing the ring, registers (see
// f2_device.hpp). The data path: f2_paths.cpp.
#include "f2_device.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace tickgate::driver {

namespace fs = std::filesystem;
using Kind = DeviceError::Kind;

namespace {

constexpr std::size_t kLine = 64;
constexpr std::size_t kEvent = sizeof(events::Event);

}  // namespace

F1Layout F2Device::layout() noexcept {
  F1Layout l;
  l.mgmt_vendor_id = static_cast<std::uint16_t>(f2::kMgmtVendorId);
  l.mgmt_device_id = static_cast<std::uint16_t>(f2::kMgmtDeviceId);
  l.cleared_device_id = static_cast<std::uint16_t>(f2::kClearedDeviceId);
  l.app_device_delta = 0;
  l.app_function = static_cast<int>(f2::kAppFunction);
  l.ingress_base = f2::kIngressBase;
  l.ingress_size = f2::kIngressSize;
  return l;
}

F2Device::F2Device(F1Image image, F2Options options, std::shared_ptr<F2Io> io)
    : image_(std::move(image)), options_(std::move(options)), io_(std::move(io)) {
  if (!io_) io_ = std::make_shared<SystemF2Io>();
  if (options_.ring_log2 != 0 && (options_.ring_log2 < f2::kRingMinLog2 || options_.ring_log2 > f2::kRingMaxLog2)) {
    throw std::invalid_argument("ring_log2 " + std::to_string(options_.ring_log2) + " is outside " +
                                std::to_string(f2::kRingMinLog2) + ".." + std::to_string(f2::kRingMaxLog2) +
                                " (protocol.f2_map), or 0 (automatic)");
  }
  const F1Layout rule = layout();
  const auto slots = scan_slots(options_.sysfs_root, rule);
  if (slots.empty()) {
    throw DeviceError(Kind::kNotFound, "no F2 card: no management function " + hex16(rule.mgmt_vendor_id) + ":" +
                                           hex16(rule.mgmt_device_id) + " under " + options_.sysfs_root +
                                           " (not an F2 instance, or not this sysfs root)");
  }
  if (options_.slot < 0 || options_.slot >= static_cast<int>(slots.size())) {
    throw DeviceError(Kind::kNotFound, "no F2 slot " + std::to_string(options_.slot) + ": " +
                                           std::to_string(slots.size()) + " slot(s) under " + options_.sysfs_root);
  }
  slot_ = slots[static_cast<std::size_t>(options_.slot)];
  if (std::string why = image_mismatch(slot_, image_, rule); !why.empty()) {
    throw DeviceError(slot_.app_present ? Kind::kWrongImage : Kind::kNotFound, why);
  }
  try {
    bar_ = std::make_unique<BarRegisters>(*io_, (fs::path(options_.sysfs_root) / slot_.app_address / "resource0").string(),
                                          slot_, "f2");
    bar_->check_image(image_);
    map_window();
    enable_bus_master();
    pin();
    announce();
    ingress_capacity_ = live(regs::offset::ingress_free);  // the card is idle when opened: its whole buffer
    submitted_ = read_register64(regs::offset::packets);
  } catch (...) {
    close();
    throw;
  }
}

F2Device::~F2Device() { close(); }

std::string F2Device::where() const { return "slot " + std::to_string(slot_.index) + " (" + slot_.app_address + ")"; }

std::string F2Device::window_path() const {
  return (fs::path(options_.sysfs_root) / slot_.app_address / std::string(f2::kPcisBarWcResource)).string();
}

void F2Device::map_window() {
  const std::string path = window_path();
  window_fd_ = io_->open(path, O_RDWR);
  if (window_fd_ < 0) {
    const int err = errno;
    throw DeviceError(Kind::kIo, "cannot open " + path + ": " + errno_text(err) +
                                     (err == ENOENT ? ": the kernel makes resource4_wc for a prefetchable BAR4; is "
                                                      "this the application function of an F2 slot?"
                                                    : ": run as root or give this user access to it"));
  }
  window_len_ = f2::kIngressSize;
  void* p = io_->mmap(window_len_, PROT_WRITE, MAP_SHARED, window_fd_, static_cast<off_t>(f2::kIngressBase));
  if (p == MAP_FAILED) {
    const int err = errno;
    throw DeviceError(Kind::kIo, "cannot mmap the ingress window of " + path + ": " + errno_text(err));
  }
  window_ = static_cast<std::byte*>(p);
}

void F2Device::pin() {
  if (options_.ring_log2 == 0) {
    try {
      records_ = std::size_t{1} << F2Options::kAutoRingLog2;
      ring_ = io_->pin_ring(records_ * kEvent);
      options_.ring_log2 = F2Options::kAutoRingLog2;
      return;
    } catch (const DeviceError&) {  // no hugepage: one page is always contiguous (a privilege error recurs)
      options_.ring_log2 = static_cast<unsigned>(f2::kRingMinLog2);
    }
  }
  records_ = std::size_t{1} << options_.ring_log2;
  ring_ = io_->pin_ring(records_ * kEvent);
}

void F2Device::enable_bus_master() {
  // PCI command register (config space offset 4): bit 1 memory space, bit 2 bus master. With no kernel
  // driver bound to the function, nothing else sets bus mastering, and without it PCIM writes are dropped.
  const std::string path = (fs::path(options_.sysfs_root) / slot_.app_address / "config").string();
  const int fd = io_->open(path, O_RDWR);
  if (fd < 0) {
    const int err = errno;
    throw DeviceError(Kind::kIo, "cannot open " + path + ": " + errno_text(err) +
                                     ": the f2 backend enables the card's bus mastering there (run as root)");
  }
  std::uint8_t command[2] = {};
  bool ok = io_->pread(fd, command, 2, 4) == 2;
  if (ok && (command[0] & 0x06) != 0x06) {
    command[0] |= 0x06;
    ok = io_->pwrite(fd, command, 2, 4) == 2;
  }
  const int err = errno;
  io_->close(fd);
  if (!ok) throw DeviceError(Kind::kIo, "cannot set bus mastering in " + path + ": " + errno_text(err) + " (run as root)");
}

void F2Device::announce() {
  namespace o = regs::offset;
  std::memset(ring_.head, 0xFF, kLine);  // the card's head line of producer 0 (rest zero) replaces this
  bar_->store(o::ring_control, 0);
  bar_->store(o::ring_base_lo, static_cast<std::uint32_t>(ring_.ring_bus));
  bar_->store(o::ring_base_hi, static_cast<std::uint32_t>(ring_.ring_bus >> 32));
  bar_->store(o::ring_head_lo, static_cast<std::uint32_t>(ring_.head_bus));
  bar_->store(o::ring_head_hi, static_cast<std::uint32_t>(ring_.head_bus >> 32));
  bar_->store(o::ring_size_log2, options_.ring_log2);
  bar_->store(o::ring_consumer, 0);
  bar_->store(o::ring_control, f2::ring_control::kEnable | f2::ring_control::kReset);
  consumer_ = last_producer_ = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int idle = 0;; pause(idle)) {
    std::byte line[kLine];
    std::atomic_thread_fence(std::memory_order_acquire);
    std::memcpy(line, ring_.head, kLine);
    if (std::all_of(line, line + kLine, [](std::byte b) { return b == std::byte{0}; })) return;
    live(o::id);  // a card that has gone says so rather than timing out
    if (std::chrono::steady_clock::now() - start > options_.timeout) {
      timeout("never announced its event ring (no head line of producer 0 within " +
              std::to_string(options_.timeout.count()) + " ms of ring_control = ENABLE | RESET; ring of " +
              std::to_string(records_) + " records in " + ring_.how + "): is bus mastering allowed, is this the "
              "F2 image, and does the instance have no IOMMU remapping host addresses?");
    }
  }
}

void F2Device::close() {
  if (bar_ && bar_->is_open()) {
    bar_->store(regs::offset::ring_control, 0);  // the card stops writing host memory before it is given back
  }
  if (ring_.ring != nullptr || ring_.head != nullptr) io_->unpin_ring(ring_);
  if (window_ != nullptr) io_->munmap(window_, window_len_);
  if (window_fd_ >= 0) io_->close(window_fd_);
  window_ = nullptr;
  window_fd_ = -1;
  if (bar_) bar_->release();
}

BarRegisters& F2Device::bar() {
  if (!bar_ || !bar_->is_open()) {
    throw DeviceError(Kind::kGone, "the f2 device of slot " + std::to_string(slot_.index) + " is closed");
  }
  return *bar_;
}

std::uint32_t F2Device::read_register(std::uint32_t offset) { return bar().read(offset); }

void F2Device::write_register(std::uint32_t offset, std::uint32_t value) {
  bar().write(offset, value);
  if (offset == regs::offset::control && (value & 2u)) submitted_ = received_ = 0;  // the counters start again
}

void F2Device::timeout(const std::string& what) const {
  throw DeviceError(Kind::kTimeout, "the card in " + where() + " " + what);
}

void F2Device::pause(int& idle) const {
  if (++idle < 4096) {
    io_->poll_pause();
  } else if (idle < 8192) {
    io_->poll_pause();
    std::this_thread::yield();
  } else {
    io_->poll_pause();
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void F2Device::reset() {
  const std::uint32_t control = live(regs::offset::control);
  write_register(regs::offset::control, control | regs::field::control_clear_counters.mask());
  spill_.clear();
  spill_head_ = 0;
  announce();  // indices to 0: what the ring held is dropped
}

DeviceIdentity F2Device::identify() { return bar().identity(); }

}  // namespace tickgate::driver
