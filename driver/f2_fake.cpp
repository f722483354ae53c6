// FakeF2Card: a SoftwareDevice behind one F2 slot's BARs and host event ring (see f2_fake.hpp).
#include "f2_fake.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tickgate::driver {

namespace {

constexpr std::size_t kEvent = sizeof(events::Event);

}  // namespace

FakeF2Card::FakeF2Card(FakeF2Config config)
    : config_(std::move(config)),
      model_(config_.card),
      bar_(model_),
      window_(f2::kIngressSize / sizeof(Line)),
      files_({config_.resource0, config_.window}) {
  refresh();
}

void FakeF2Card::inject(FakeF2Fault fault, std::size_t after) {
  config_.fault = fault;
  config_.fail_after = ops_ + after;
  faulted_ = false;
}

int FakeF2Card::open(const std::string& path, int flags) {
  if (const auto fd = files_.open(path)) return *fd;
  return real_.open(path, flags);
}

int FakeF2Card::close(int fd) { return files_.close(fd) ? 0 : real_.close(fd); }

ssize_t FakeF2Card::pread(int fd, void* buf, std::size_t count, off_t offset) {
  return real_.pread(fd, buf, count, offset);
}

ssize_t FakeF2Card::pwrite(int fd, const void* buf, std::size_t count, off_t offset) {
  return real_.pwrite(fd, buf, count, offset);
}

void* FakeF2Card::mmap(std::size_t length, int prot, int flags, int fd, off_t offset) {
  if (fd == Files::fd(kResource0) && files_.is_open(kResource0) && offset == 0 && length <= bar_.bytes()) {
    return bar_.data();
  }
  if (fd == Files::fd(kWindow) && files_.is_open(kWindow) &&
      static_cast<std::uint64_t>(offset) == f2::kIngressBase &&
      length <= window_.size() * sizeof(Line)) {
    window_cursor_ = 0;  // a new mapping is a new host: it starts storing at the window's start
    return window_.data();
  }
  if (Files::served(fd)) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  return real_.mmap(length, prot, flags, fd, offset);
}

int FakeF2Card::munmap(void* addr, std::size_t length) {
  return addr == bar_.data() || addr == window_.data() ? 0 : real_.munmap(addr, length);
}

HostRing FakeF2Card::pin_ring(std::size_t ring_bytes) {
  ring_.assign(ring_bytes / sizeof(Line), Line{});
  head_ = Line{};
  pinned_ = true;
  HostRing r;
  r.ring = ring_.front().b;
  r.ring_bytes = ring_bytes;
  r.ring_bus = kRingBus;
  r.head = head_.b;
  r.head_bus = kHeadBus;
  r.how = "the fake card's memory";
  return r;
}

void FakeF2Card::unpin_ring(HostRing& ring) noexcept {
  pinned_ = false;
  ring = HostRing{};
}

bool FakeF2Card::tick() {
  ++ops_;
  if (config_.fault != FakeF2Fault::kNone && ops_ > config_.fail_after) faulted_ = true;
  return faulted_;
}

void FakeF2Card::store_fence(std::size_t bytes) noexcept {
  ++stats_.fences;
  tick();
  const bool gone = faulted_ && config_.fault == FakeF2Fault::kGone;
  const std::size_t room = config_.ingress_capacity - ingress_.size();
  const std::size_t beats = bytes / sizeof(Line) + bytes % sizeof(Line) / 8;  // a partial line: a beat a word
  if (!gone && beats * sizeof(Line) > room / sizeof(Line) * sizeof(Line)) ++stats_.overruns;
  const std::size_t window = window_.size() * sizeof(Line);
  const auto* base = reinterpret_cast<const std::byte*>(window_.data());
  std::size_t kept = gone ? 0 : std::min(bytes, room);
  for (std::size_t left = bytes; left > 0;) {  // in store order: the cursor wraps as the host's does
    const std::size_t n = std::min(left, window - window_cursor_);
    const std::size_t k = std::min(n, kept);
    ingress_.insert(ingress_.end(), base + window_cursor_, base + window_cursor_ + k);
    kept -= k;
    left -= n;
    window_cursor_ = (window_cursor_ + n) % window;
  }
  if (window_cursor_ % sizeof(Line)) {  // the host's next stores start a new line
    window_cursor_ = (window_cursor_ / sizeof(Line) + 1) * sizeof(Line) % window;
  }
  if (!gone) stats_.bytes_in += std::min(bytes, room);
  step();
  refresh();
}

void FakeF2Card::poll_pause() noexcept {
  ++stats_.pauses;
  tick();
  step();
  refresh();
}

std::byte* FakeF2Card::host(std::uint64_t bus, std::size_t bytes) {
  if (bus >= kRingBus && bus + bytes <= kRingBus + ring_.size() * sizeof(Line)) {
    if (!pinned_) {
      ++stats_.late_writes;
      return nullptr;
    }
    return ring_.front().b + (bus - kRingBus);
  }
  if (bus == kHeadBus && bytes <= sizeof(Line)) {
    if (!pinned_) {
      ++stats_.late_writes;
      return nullptr;
    }
    return head_.b;
  }
  ++stats_.bad_addresses;
  return nullptr;
}

void FakeF2Card::write_head() {
  namespace o = regs::offset;
  const std::uint64_t bus = word(o::ring_head_lo) | std::uint64_t{word(o::ring_head_hi)} << 32;
  std::uint32_t announced = producer_;
  if (faulted_ && config_.fault == FakeF2Fault::kBackwards) announced = announced_ - 1;
  if (faulted_ && config_.fault == FakeF2Fault::kJump) {
    announced = word(o::ring_consumer) + (std::uint32_t{1} << word(o::ring_size_log2)) + 1;
  }
  std::byte* line = host(bus, f2::kHeadLineBytes);
  if (line == nullptr) {
    ++pcim_errors_;
    return;
  }
  std::memset(line, 0, f2::kHeadLineBytes);
  std::memcpy(line + f2::kHeadProducerOffset, &announced, sizeof announced);
  announced_ = announced;
  ++stats_.head_writes;
}

void FakeF2Card::feed() {
  std::size_t pos = 0;
  while (ingress_.size() - pos >= mold::DmaHeader::kLength && model_.pending() < config_.egress_capacity) {
    const std::size_t length = mold::DmaHeader::length(ingress_.data() + pos);
    const std::size_t record = (mold::DmaHeader::kLength + length + mold::kDmaAlign - 1) / mold::kDmaAlign *
                               mold::kDmaAlign;
    if (ingress_.size() - pos < record) break;
    model_.submit({ingress_.data() + pos, record});
    pos += record;
  }
  ingress_.erase(ingress_.begin(), ingress_.begin() + static_cast<std::ptrdiff_t>(pos));
}

bool FakeF2Card::write_events() {
  namespace o = regs::offset;
  const std::uint32_t log2 = word(o::ring_size_log2);
  if (log2 < f2::kRingMinLog2 || log2 > f2::kRingMaxLog2) return false;  // no ring the card would accept
  const std::uint32_t records = std::uint32_t{1} << log2;
  const std::uint64_t base = word(o::ring_base_lo) | std::uint64_t{word(o::ring_base_hi)} << 32;
  const std::size_t room = records - (producer_ - word(o::ring_consumer));
  if (model_.pending() > 0 && room == 0) {  // full: hold the next event, count it once
    if (!held_counted_) ++ring_full_;
    held_counted_ = true;
    return false;
  }
  outgoing_.resize(std::min(model_.pending(), room));
  const std::size_t n = model_.collect(outgoing_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t at = producer_ % records;
    if (std::byte* rec = host(base + std::uint64_t{at} * kEvent, kEvent)) {
      std::memcpy(rec, &outgoing_[i], kEvent);
      ++stats_.records_written;
      if (at == 0 && producer_ != 0) ++stats_.wraps;
    } else {
      ++pcim_errors_;  // the record is lost to the host, which sees the count
    }
    ++producer_;
    held_counted_ = false;
  }
  return n > 0;
}

void FakeF2Card::step() {
  namespace o = regs::offset;
  if (faulted_ && config_.fault == FakeF2Fault::kGone) return;
  if (bar_.take_clear(model_)) ring_full_ = pcim_errors_ = 0;
  const bool mute = faulted_ && config_.fault == FakeF2Fault::kMute;
  const std::uint32_t control = word(o::ring_control);
  if (control & f2::ring_control::kReset) {
    word(o::ring_control) = control & ~f2::ring_control::kReset;  // a command: reads 0
    producer_ = 0;
    word(o::ring_consumer) = 0;  // both indices
    held_counted_ = false;
    if ((control & f2::ring_control::kEnable) && !mute) write_head();
  }
  if (faulted_ && config_.fault == FakeF2Fault::kStall) return;
  const bool enabled = (word(o::ring_control) & f2::ring_control::kEnable) && !mute;
  for (;;) {
    feed();
    if (!enabled || !write_events()) break;
    write_head();  // after the records it announces
  }
}

void FakeF2Card::refresh() {
  namespace o = regs::offset;
  if (faulted_ && config_.fault == FakeF2Fault::kGone) {
    bar_.gone();
    return;
  }
  bar_.refresh(model_, config_.id, config_.map_version);
  word(o::ingress_free) = static_cast<std::uint32_t>((config_.ingress_capacity - ingress_.size()) / sizeof(Line) *
                                                     sizeof(Line));  // whole 64-byte entries, as the card counts
  word(o::events_ready) = static_cast<std::uint32_t>(model_.pending());
  word(o::ring_producer) = producer_;
  bar_.put64(o::ring_full, ring_full_);
  bar_.put64(o::pcim_errors, pcim_errors_);
}

}  // namespace tickgate::driver
