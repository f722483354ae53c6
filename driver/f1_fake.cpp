// FakeF1Card: a SoftwareDevice behind one F1 slot's device paths (see f1_fake.hpp).
#include "f1_fake.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tickgate::driver {

namespace {

constexpr std::size_t kEventSize = sizeof(events::Event);

}  // namespace

FakeF1Card::FakeF1Card(FakeF1Config config)
    : config_(std::move(config)),
      model_(config_.card),
      bar_(model_),
      files_({config_.resource0, config_.h2c, config_.c2h}) {
  refresh();
}

void FakeF1Card::inject(FakeFault fault, std::size_t after) {
  config_.fault = fault;
  config_.fail_after = ops_ + after;
  faulted_ = false;
}

int FakeF1Card::open(const std::string& path, int flags) {
  if (const auto fd = files_.open(path)) return *fd;
  return real_.open(path, flags);
}

int FakeF1Card::close(int fd) { return files_.close(fd) ? 0 : real_.close(fd); }

void* FakeF1Card::mmap(std::size_t length, int prot, int flags, int fd, off_t offset) {
  if (fd != Files::fd(kResource0)) return real_.mmap(length, prot, flags, fd, offset);
  if (!files_.is_open(kResource0) || offset != 0 || length > bar_.bytes()) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  return bar_.data();
}

int FakeF1Card::munmap(void* addr, std::size_t length) {
  return addr == bar_.data() ? 0 : real_.munmap(addr, length);
}

int FakeF1Card::tick() {
  ++ops_;
  if (config_.fault == FakeFault::kNone || ops_ <= config_.fail_after) return 0;
  faulted_ = true;
  switch (config_.fault) {
    case FakeFault::kEio: return EIO;
    case FakeFault::kTimeout: return ETIMEDOUT;
    case FakeFault::kGone: return ops_ == config_.fail_after + 1 ? 0 : EIO;  // this one completes, then all ones
    default: return 0;  // kStall: transfers work, the pipeline does not
  }
}

ssize_t FakeF1Card::pwrite(int fd, const void* buf, std::size_t count, off_t offset) {
  if (fd != Files::fd(kH2c) || !files_.is_open(kH2c)) return real_.pwrite(fd, buf, count, offset);
  ++stats_.pwrites;
  if (const int err = tick()) {
    errno = err;
    return -1;
  }
  const auto off = static_cast<std::uint64_t>(offset);
  if (off < config_.ingress_base || off + count > config_.ingress_base + config_.ingress_size) {
    ++stats_.outside_window;
    errno = EINVAL;
    return -1;
  }
  if (count > ingress_free()) {
    ++stats_.overruns;
    errno = ENOSPC;
    return -1;
  }
  const std::size_t n = config_.max_transfer ? std::min(count, config_.max_transfer) : count;
  if (n < count) ++stats_.short_transfers;
  const auto* p = static_cast<const std::byte*>(buf);
  ingress_.insert(ingress_.end(), p, p + n);
  stats_.bytes_in += n;
  step();
  refresh();
  return static_cast<ssize_t>(n);
}

ssize_t FakeF1Card::pread(int fd, void* buf, std::size_t count, off_t offset) {
  if (fd != Files::fd(kC2h) || !files_.is_open(kC2h)) return real_.pread(fd, buf, count, offset);
  ++stats_.preads;
  if (const int err = tick()) {
    errno = err;
    return -1;
  }
  const auto off = static_cast<std::uint64_t>(offset);
  if (off < config_.egress_base || off + count > config_.egress_base + config_.egress_size) {
    ++stats_.outside_window;
    errno = EINVAL;
    return -1;
  }
  const std::size_t split = egress_.size() - egress_head_;  // rest of a record a short read split
  if (count > split + events_ready() * kEventSize) {
    ++stats_.overreads;
    errno = EINVAL;
    return -1;
  }
  const std::size_t n = config_.max_transfer ? std::min(count, config_.max_transfer) : count;
  if (n < count) ++stats_.short_transfers;
  auto* out = static_cast<std::byte*>(buf);
  std::size_t done = std::min(n, split);
  std::memcpy(out, egress_.data() + egress_head_, done);
  egress_head_ += done;
  if (const std::size_t whole = (n - done) / kEventSize) {
    std::vector<events::Event> taken(whole);  // out + done need not be aligned for Event: copy
    model_.collect(taken);
    std::memcpy(out + done, taken.data(), whole * kEventSize);
    done += whole * kEventSize;
    stats_.events_out += whole;
  }
  if (done < n) {  // a short read ends inside a record: keep the rest of it
    events::Event e{};
    model_.collect({&e, 1});
    egress_.resize(kEventSize);
    std::memcpy(egress_.data(), &e, kEventSize);
    ++stats_.events_out;
    std::memcpy(out + done, egress_.data(), n - done);
    egress_head_ = n - done;
  }
  step();
  refresh();
  return static_cast<ssize_t>(n);
}

void FakeF1Card::step() {
  namespace o = regs::offset;
  bar_.take_clear(model_);
  if (faulted_ && config_.fault == FakeFault::kStall) return;
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

std::size_t FakeF1Card::ingress_free() {
  return config_.ingress_capacity - ingress_.size();
}

std::size_t FakeF1Card::events_ready() {
  return model_.pending();
}

void FakeF1Card::refresh() {
  namespace o = regs::offset;
  if (faulted_ && config_.fault == FakeFault::kGone) {
    bar_.gone();
    return;
  }
  bar_.refresh(model_, config_.id, config_.map_version);
  word(o::ingress_free) = static_cast<std::uint32_t>(ingress_free());
  word(o::events_ready) = static_cast<std::uint32_t>(events_ready());
}

}  // namespace tickgate::driver
