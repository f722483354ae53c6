// F2Device: slot and image checks, the write-combined ingress stores, the host event ring (see f2_device.hpp).
#include "f2_device.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tickgate::driver {

namespace fs = std::filesystem;
using Kind = DeviceError::Kind;

namespace {

constexpr std::size_t kLine = 64;
constexpr std::size_t kWord = 8;
constexpr std::size_t kEvent = sizeof(events::Event);
static_assert(kEvent == f2::kRecordBytes && f2::kHeadLineBytes == kLine);

/// One whole 64-byte line, aligned at `dst`: four 16-byte stores the write-combining buffer joins into one
/// 64-byte PCIS beat.
inline void store_line(std::byte* dst, const std::byte* src) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  for (std::size_t i = 0; i < kLine; i += 16) {
    _mm_store_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
#else
  for (std::size_t i = 0; i < kLine; i += kWord) {
    std::uint64_t w;
    std::memcpy(&w, src + i, kWord);
    *reinterpret_cast<volatile std::uint64_t*>(dst + i) = w;
  }
#endif
}

/// Orders the line just stored before the next: write-combining buffers may drain in any order (x86 and AMD64
/// promise nothing between lines without a fence), and the window is a FIFO port that takes beats as they
/// come. Without it two lines of a batch could reach the card swapped.
inline void line_fence() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_sfence();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline void store_word(std::byte* dst, const std::byte* src) noexcept {
  std::uint64_t w;
  std::memcpy(&w, src, kWord);
  *reinterpret_cast<volatile std::uint64_t*>(dst) = w;
}

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

void F2Device::store(const std::byte* data, std::size_t n) {
  std::size_t done = 0;
  for (; n - done >= kLine; done += kLine) {  // the cursor is at a line boundary: whole lines, in order
    if (done) line_fence();
    store_line(window_ + cursor_, data + done);
    cursor_ = (cursor_ + kLine) % window_len_;
  }
  if (done && done < n) line_fence();
  for (std::size_t at = cursor_; done < n; done += kWord, at += kWord) store_word(window_ + at, data + done);
  if (n % kLine) cursor_ = (cursor_ + kLine) % window_len_;  // the next stores start a new line
  io_->store_fence(n);
}

std::size_t F2Device::fits(std::size_t rest, std::size_t free_lines) noexcept {
  const std::size_t full = rest / kLine;
  const std::size_t tail = rest % kLine / kWord;
  if (full >= free_lines) return free_lines * kLine;
  return full + tail <= free_lines ? rest : full * kLine;
}

std::size_t F2Device::submit(std::span<const std::byte> batch) {
  if (window_ == nullptr) bar();  // closed: kGone
  for (std::size_t pos = 0; pos + mold::DmaHeader::kLength <= batch.size(); ++submitted_) {  // its packets
    const std::size_t end = pos + mold::DmaHeader::kLength + mold::DmaHeader::length(batch.data() + pos);
    pos = (end + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
  }
  if (batch.size() % kWord) throw std::invalid_argument("a DMA batch is whole 8-byte words (protocol.moldudp64.pack_dma)");
  std::size_t off = 0;
  int idle = 0;
  auto last = std::chrono::steady_clock::now();
  while (off < batch.size()) {
    const std::size_t n = fits(batch.size() - off, live(regs::offset::ingress_free) / kLine);
    if (n == 0) {
      if (drain()) {
        last = std::chrono::steady_clock::now();
        idle = 0;
        continue;
      }
      if (std::chrono::steady_clock::now() - last > options_.timeout) {
        timeout("took no bytes for " + std::to_string(options_.timeout.count()) + " ms (ingress_free stayed 0, no "
                "events in the ring; " + std::to_string(off) + " of " + std::to_string(batch.size()) +
                " bytes of the batch stored): the pipeline is stalled; check the control register's enable bit and "
                "the card (fpga-describe-local-image -S " + std::to_string(slot_.index) + " -H)");
      }
      pause(idle);
      continue;
    }
    store(batch.data() + off, n);
    off += n;
    last = std::chrono::steady_clock::now();
    idle = 0;
  }
  return batch.size();
}

std::uint32_t F2Device::producer() {
  const std::uint32_t p = std::atomic_ref<std::uint32_t>(
      *reinterpret_cast<std::uint32_t*>(ring_.head + f2::kHeadProducerOffset)).load(std::memory_order_acquire);
  if (p == last_producer_) return p;
  const auto moved = static_cast<std::int32_t>(p - last_producer_);
  if (moved < 0 || p - consumer_ > records_) {
    const std::string what = moved < 0 ? "moved backwards from " + std::to_string(last_producer_) + " to " +
                                             std::to_string(p)
                                       : "ran to " + std::to_string(p) + ", past the ring (consumer " +
                                             std::to_string(consumer_) + ", " + std::to_string(records_) + " records)";
    throw DeviceError(Kind::kIo, "the card in " + where() + " broke the event ring protocol: its producer index " +
                                     what + "; events read from the ring can no longer be trusted: open the backend "
                                     "again (a ring reset), and check the image");
  }
  last_producer_ = p;
  return p;
}

std::size_t F2Device::take(events::Event* out, std::size_t max) {
  if (ring_.head == nullptr) bar();  // closed: kGone
  const std::size_t k = std::min<std::size_t>(producer() - consumer_, max);
  if (k == 0) return 0;
  const std::size_t at = consumer_ & (records_ - 1);
  const std::size_t first = std::min(k, records_ - at);
  // bytes: the caller's array (numpy) need not have the record's 64-byte alignment
  std::memcpy(static_cast<void*>(out), ring_.ring + at * kEvent, first * kEvent);
  if (k > first) std::memcpy(static_cast<void*>(out + first), ring_.ring, (k - first) * kEvent);
  consumer_ += static_cast<std::uint32_t>(k);
  received_ += k;
  bar_->store(regs::offset::ring_consumer, consumer_);
  return k;
}

bool F2Device::drain() {
  if (ring_.head == nullptr) bar();  // closed: kGone
  const std::size_t ready = producer() - consumer_;
  if (ready == 0) return false;
  if (spill_head_ == spill_.size()) {
    spill_.clear();
    spill_head_ = 0;
  }
  const std::size_t at = spill_.size();
  spill_.resize(at + ready);
  take(spill_.data() + at, ready);
  return true;
}

std::size_t F2Device::collect(std::span<events::Event> out) {
  std::size_t n = std::min(out.size(), spill_.size() - spill_head_);
  if (n) std::memcpy(static_cast<void*>(out.data()), spill_.data() + spill_head_, n * kEvent);
  spill_head_ += n;
  if (n < out.size()) n += take(out.data() + n, out.size() - n);
  return n;
}

std::size_t F2Device::pending() {
  if (ring_.head == nullptr) bar();  // closed: kGone
  return spill_.size() - spill_head_ + (producer() - consumer_);
}

void F2Device::settle() {
  namespace o = regs::offset;
  auto last_change = std::chrono::steady_clock::now();
  std::uint64_t last_count = ~std::uint64_t{0};
  std::uint32_t last_seen = last_producer_;
  for (int idle = 0;;) {
    const std::uint32_t p = producer();
    if (p - consumer_ >= records_ / 2) drain();  // room for the card; a ring under half full is left to collect
    const std::uint64_t count = read_register64(o::packets);
    const std::uint64_t emitted = read_register64(o::events);
    const std::uint64_t arrived = received_ + (p - consumer_) + read_register64(o::pcim_errors);
    if (count >= submitted_ && arrived >= emitted) return;
    if (p != last_seen || count != last_count) {
      last_change = std::chrono::steady_clock::now();
      last_seen = p;
      last_count = count;
      idle = 0;
      continue;
    }
    if (arrived >= emitted && live(o::ingress_free) >= ingress_capacity_) {
      return;  // everything taken, every event arrived, nothing moving: framing lost (see the dma_* counters)
    }
    if (std::chrono::steady_clock::now() - last_change > options_.timeout) {
      timeout("made no progress for " + std::to_string(options_.timeout.count()) + " ms: its packets counter stopped "
              "at " + std::to_string(count) + " of " + std::to_string(submitted_) + " submitted, and " +
              std::to_string(arrived) + " of the " + std::to_string(emitted) + " events it counted reached the "
              "ring (records + pcim_errors)");
    }
    pause(idle);
  }
}

void F2Device::reset() {
  const std::uint32_t control = live(regs::offset::control);
  write_register(regs::offset::control, control | 2u);
  spill_.clear();
  spill_head_ = 0;
  announce();  // indices to 0: what the ring held is dropped
}

DeviceIdentity F2Device::identify() {
  DeviceIdentity d;
  d.backend = "f2";
  d.location = slot_.app_address;
  d.vendor_id = slot_.vendor_id;
  d.device_id = slot_.device_id;
  d.subsystem_vendor_id = slot_.subsystem_vendor_id;
  d.subsystem_id = slot_.subsystem_id;
  d.id = live(regs::offset::id);
  d.map_version = live(regs::offset::map_version);
  d.cap_orders = read_register(regs::offset::cap_orders);
  d.cap_levels = read_register(regs::offset::cap_levels);
  d.cap_symbols = read_register(regs::offset::cap_symbols);
  return d;
}

}  // namespace tickgate::driver
