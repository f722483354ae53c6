// F1Device: image checks, BAR0 registers, XDMA transfer loops (see f1_device.hpp).
#include "f1_device.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

namespace tickgate::driver {

namespace fs = std::filesystem;
using Kind = DeviceError::Kind;


F1Device::F1Device(F1Layout layout, F1Image image, F1Options options, std::shared_ptr<PosixIo> io)
    : layout_(layout), image_(std::move(image)), options_(std::move(options)), io_(std::move(io)) {
  if (!io_) io_ = std::make_shared<SystemIo>();
  if (layout_.ingress_size == 0 || layout_.egress_size < sizeof(events::Event)) {
    throw std::invalid_argument("F1Layout: empty DMA windows (take them from protocol.f1_map)");
  }
  const auto slots = scan_slots(options_.sysfs_root, layout_);
  if (slots.empty()) {
    throw DeviceError(Kind::kNotFound, "no F1 card: no management function " + hex16(layout_.mgmt_vendor_id) + ":" +
                                           hex16(layout_.mgmt_device_id) + " under " + options_.sysfs_root +
                                           " (not an F1 instance, or not this sysfs root)");
  }
  if (options_.slot < 0 || options_.slot >= static_cast<int>(slots.size())) {
    throw DeviceError(Kind::kNotFound, "no F1 slot " + std::to_string(options_.slot) + ": " +
                                           std::to_string(slots.size()) + " slot(s) under " + options_.sysfs_root);
  }
  slot_ = slots[static_cast<std::size_t>(options_.slot)];
  if (std::string why = image_mismatch(slot_, image_, layout_); !why.empty()) {
    throw DeviceError(slot_.app_present ? Kind::kWrongImage : Kind::kNotFound, why);
  }
  if (slot_.xdma < 0) {
    throw DeviceError(Kind::kNotFound, "slot " + std::to_string(slot_.index) + " (" + slot_.app_address +
                                           "): no XDMA character devices (no xdma/xdma<N>_h2c_0 in its sysfs "
                                           "folder): is the xdma driver loaded and bound to it?");
  }
  h_.io = io_.get();
  bar_ = std::make_unique<BarRegisters>(*io_, (fs::path(options_.sysfs_root) / slot_.app_address / "resource0").string(),
                                        slot_, "f1");
  {
    bar_->check_image(image_);
    const std::pair<int*, std::string> files[] = {{&h_.h2c_fd, h2c_path()}, {&h_.c2h_fd, c2h_path()}};
    for (const auto& [fd, path] : files) {
      *fd = io_->open(path, fd == &h_.h2c_fd ? O_WRONLY : O_RDONLY);
      if (*fd < 0) {
        const int err = errno;
        throw DeviceError(Kind::kIo, "cannot open " + path + ": " + errno_text(err) +
                                         ": is the xdma driver loaded (lsmod | grep xdma) and this user allowed?");
      }
    }
  }
  ingress_capacity_ = live(regs::offset::ingress_free);  // the card is idle when opened: its whole buffer
  submitted_ = read_register64(regs::offset::packets);
}

F1Device::Handles::~Handles() { release(); }

void F1Device::Handles::release() {
  for (const int fd : {h2c_fd, c2h_fd}) {
    if (fd >= 0) io->close(fd);
  }
  h2c_fd = c2h_fd = -1;
}

void F1Device::close() {
  h_.release();
  if (bar_) bar_->release();
}

BarRegisters& F1Device::bar() {
  if (!bar_->is_open()) bar_->closed();
  return *bar_;
}

std::string F1Device::h2c_path() const {
  return (fs::path(options_.dev_dir) / ("xdma" + std::to_string(slot_.xdma) + "_h2c_0")).string();
}

std::string F1Device::c2h_path() const {
  return (fs::path(options_.dev_dir) / ("xdma" + std::to_string(slot_.xdma) + "_c2h_0")).string();
}

std::uint32_t F1Device::read_register(std::uint32_t offset) { return bar_->read(offset); }

void F1Device::write_register(std::uint32_t offset, std::uint32_t value) {
  bar_->write(offset, value);
  if (offset == regs::offset::control && (value & regs::field::control_clear_counters.mask())) {
    submitted_ = 0;  // the counters start again
  }
}

void F1Device::pause(int& idle) const {
  if (++idle < 64) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void F1Device::io_failed(const char* call, const std::string& path, int err, std::size_t done,
                         std::size_t n) const {
  const std::string what = std::string(call) + " on " + path + " failed after " + std::to_string(done) + " of " +
                           std::to_string(n) + " bytes: " + errno_text(err);
  const std::string check = "; check the card (fpga-describe-local-image -S " + std::to_string(slot_.index) +
                            " -H) and the xdma driver's messages (dmesg | grep -i xdma)";
  if (err == ETIMEDOUT) throw DeviceError(Kind::kTimeout, what + ": the DMA transfer timed out" + check);
  if (err == EIO) {
    throw DeviceError(Kind::kIo, what + ": the DMA transfer failed (the xdma driver also returns EIO when a transfer "
                                        "does not complete within its 10 s timeout)" + check);
  }
  throw DeviceError(Kind::kIo, what + check);
}

void F1Device::write_all(const std::byte* data, std::size_t n) {
  std::size_t done = 0;
  int idle = 0;
  auto last = std::chrono::steady_clock::now();
  while (done < n) {
    const ssize_t r = io_->pwrite(h_.h2c_fd, data + done, n - done, static_cast<off_t>(layout_.ingress_base + done));
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      last = std::chrono::steady_clock::now();
      idle = 0;
      continue;
    }
    if (r < 0 && errno != EINTR && errno != EAGAIN) io_failed("pwrite", h2c_path(), errno, done, n);
    if (std::chrono::steady_clock::now() - last > options_.timeout) {
      throw DeviceError(Kind::kTimeout, "pwrite on " + h2c_path() + " made no progress for " +
                                            std::to_string(options_.timeout.count()) + " ms (" + std::to_string(done) +
                                            " of " + std::to_string(n) + " bytes written): check the card");
    }
    pause(idle);
  }
}

void F1Device::read_all(std::byte* data, std::size_t n) {
  std::size_t done = 0;
  int idle = 0;
  auto last = std::chrono::steady_clock::now();
  while (done < n) {
    const ssize_t r = io_->pread(h_.c2h_fd, data + done, n - done, static_cast<off_t>(layout_.egress_base + done));
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      last = std::chrono::steady_clock::now();
      idle = 0;
      continue;
    }
    if (r < 0 && errno != EINTR && errno != EAGAIN) io_failed("pread", c2h_path(), errno, done, n);
    if (std::chrono::steady_clock::now() - last > options_.timeout) {
      throw DeviceError(Kind::kTimeout, "pread on " + c2h_path() + " made no progress for " +
                                            std::to_string(options_.timeout.count()) + " ms (" + std::to_string(done) +
                                            " of " + std::to_string(n) + " bytes read): check the card");
    }
    pause(idle);
  }
}

bool F1Device::drain() {
  const std::size_t ready = live(regs::offset::events_ready);
  if (ready == 0) return false;
  const std::size_t k = std::min<std::size_t>(ready, layout_.egress_size / sizeof(events::Event));
  if (spill_head_ == spill_.size()) {
    spill_.clear();
    spill_head_ = 0;
  }
  const std::size_t at = spill_.size();
  spill_.resize(at + k);
  read_all(reinterpret_cast<std::byte*>(spill_.data() + at), k * sizeof(events::Event));
  return true;
}

std::size_t F1Device::submit(std::span<const std::byte> batch) {
  for (std::size_t pos = 0; pos + mold::DmaHeader::kLength <= batch.size(); ++submitted_) {  // its packets
    const std::size_t end = pos + mold::DmaHeader::kLength + mold::DmaHeader::length(batch.data() + pos);
    pos = (end + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
  }
  std::size_t off = 0;
  int idle = 0;
  auto last = std::chrono::steady_clock::now();
  while (off < batch.size()) {
    const std::size_t free = live(regs::offset::ingress_free);
    if (free == 0) {
      if (drain()) {
        last = std::chrono::steady_clock::now();
        idle = 0;
        continue;
      }
      if (std::chrono::steady_clock::now() - last > options_.timeout) {
        throw DeviceError(Kind::kTimeout,
                          "the card in slot " + std::to_string(slot_.index) + " (" + slot_.app_address + ") took no " +
                              "bytes for " + std::to_string(options_.timeout.count()) + " ms (ingress_free stayed 0, " +
                              "no events ready; " + std::to_string(off) + " of " + std::to_string(batch.size()) +
                              " bytes of the batch written): the pipeline is stalled; check the control register's "
                              "enable bit and the card (fpga-describe-local-image -S " + std::to_string(slot_.index) +
                              " -H)");
      }
      pause(idle);
      continue;
    }
    const std::size_t n = std::min({free, batch.size() - off, static_cast<std::size_t>(layout_.ingress_size)});
    write_all(batch.data() + off, n);
    off += n;
    last = std::chrono::steady_clock::now();
    idle = 0;
  }
  return batch.size();
}

std::size_t F1Device::collect(std::span<events::Event> out) {
  std::size_t n = std::min(out.size(), spill_.size() - spill_head_);
  if (n) {  // bytes: the caller's array (numpy) need not have the record's 64-byte alignment
    std::memcpy(static_cast<void*>(out.data()), spill_.data() + spill_head_, n * sizeof(events::Event));
  }
  spill_head_ += n;
  const std::size_t max_read = layout_.egress_size / sizeof(events::Event);
  while (n < out.size()) {
    const std::size_t ready = live(regs::offset::events_ready);
    if (ready == 0) break;
    const std::size_t k = std::min({ready, out.size() - n, max_read});
    read_all(reinterpret_cast<std::byte*>(out.data() + n), k * sizeof(events::Event));
    n += k;
  }
  return n;
}

std::size_t F1Device::pending() { return spill_.size() - spill_head_ + live(regs::offset::events_ready); }

void F1Device::settle() {
  auto last_change = std::chrono::steady_clock::now();
  std::uint64_t last_count = ~std::uint64_t{0};
  for (;;) {
    const bool got = drain();
    const std::uint64_t count = read_register64(regs::offset::packets);
    if (count >= submitted_) {
      while (drain()) {
      }  // the events of the last packets may trail its count
      return;
    }
    if (got || count != last_count) {
      last_change = std::chrono::steady_clock::now();
      last_count = count;
      continue;
    }
    if (live(regs::offset::ingress_free) >= ingress_capacity_ && live(regs::offset::events_ready) == 0) {
      return;  // everything taken, nothing moving: framing lost (see the dma_* counters)
    }
    if (std::chrono::steady_clock::now() - last_change > options_.timeout) {
      throw DeviceError(Kind::kTimeout,
                        "the card in slot " + std::to_string(slot_.index) + " (" + slot_.app_address +
                            "): its packets counter stopped at " + std::to_string(count) + " of " +
                            std::to_string(submitted_) + " for " + std::to_string(options_.timeout.count()) +
                            " ms with bytes still in its ingress buffer");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void F1Device::reset() {
  const std::uint32_t control = live(regs::offset::control);
  write_register(regs::offset::control, control | regs::field::control_clear_counters.mask());
  spill_.clear();
  spill_head_ = 0;
  std::vector<events::Event> sink(std::min<std::size_t>(layout_.egress_size / sizeof(events::Event), 4096));
  while (const std::size_t ready = live(regs::offset::events_ready)) {
    const std::size_t k = std::min(ready, sink.size());
    read_all(reinterpret_cast<std::byte*>(sink.data()), k * sizeof(events::Event));
  }
}

DeviceIdentity F1Device::identify() { return bar().identity(); }

}  // namespace tickgate::driver
