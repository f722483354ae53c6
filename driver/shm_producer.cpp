// The shared-memory event ring's producer (shm_producer.hpp).
#include "shm_producer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace tickgate::shm {

namespace {

constexpr std::size_t kProducerLock = 0;  // the info line's bytes: held by the live producer

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

Producer::Producer(const std::string& name, std::size_t records) : name_(name), capacity_(records) {
  if (records < 2 || (records & (records - 1)) != 0) {
    throw std::invalid_argument("shm ring capacity must be a power of two of at least 2 records, not " +
                                std::to_string(records));
  }
  const std::string path = shm_path(name);
  const std::size_t bytes = kHeaderBytes + records * kRecordSize;
  mask_ = capacity_ - 1;
  fd_.reset(::shm_open(path.c_str(), O_RDWR | O_CREAT, 0644));
  if (fd_.get() < 0) throw_errno("shm_open of shm ring '" + name + "'");
  if (!ofd_lock(fd_.get(), kProducerLock, kCacheLine)) {
    throw std::runtime_error("shm ring '" + name + "' has a live producer already");
  }
  if (!take_over(bytes)) {
    fd_.reset();
    ::shm_unlink(path.c_str());  // another layout (or not a ring): readers of the old one were told it is stale
    fd_.reset(::shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644));
    if (fd_.get() < 0) throw_errno("shm_open of shm ring '" + name + "'");
    if (!ofd_lock(fd_.get(), kProducerLock, kCacheLine)) {
      throw std::runtime_error("shm ring '" + name + "' has a live producer already");
    }
    make(bytes);
  }
  records_ = map_.records();
  line_ = &map_.header().producer;
  head_ = line_->head;
  claim_ = std::max(line_->claim, head_);  // a batch a crashed producer left half written: never published
  Info& info = map_.header().info;
  store_relaxed(info.producer_pid, static_cast<std::uint32_t>(::getpid()));
  store_release(info.state, static_cast<std::uint32_t>(State::kLive));
  open_ = true;
}

bool Producer::take_over(std::size_t bytes) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw_errno("fstat of shm ring '" + name_ + "'");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {  // just made by our O_CREAT
    make(bytes);
    return true;
  }
  if (size < kHeaderBytes) return false;
  map_ = Mapping(fd_.get(), size);
  Info& info = map_.header().info;
  const bool ring = load_acquire(info.magic) == kMagic;
  if (ring && info.version == kVersion && info.record_size == kRecordSize && info.capacity == capacity_ &&
      size == bytes) {
    std::atomic_ref<std::uint64_t>(info.epoch).fetch_add(1, std::memory_order_acq_rel);
    reopened_ = true;
    return true;
  }
  if (ring) store_release(info.state, static_cast<std::uint32_t>(State::kStale));
  map_ = Mapping();
  return false;
}

void Producer::make(std::size_t bytes) {
  if (::ftruncate(fd_.get(), static_cast<off_t>(bytes)) != 0) throw_errno("ftruncate of shm ring '" + name_ + "'");
  map_ = Mapping(fd_.get(), bytes);
  Info& info = map_.header().info;  // a new segment is zero: indices 0, reader slots free
  info.version = kVersion;
  info.record_size = static_cast<std::uint32_t>(kRecordSize);
  info.capacity = capacity_;
  info.epoch = 1;
  info.created_ns = realtime_ns();
  store_release(info.magic, kMagic);
}

void Producer::publish(std::span<const events::Event> batch) noexcept {
  if (!open_ || batch.empty()) return;
  const std::uint64_t n = batch.size(), end = head_ + n;
  if (end > claim_) claim_ = end;
  store_relaxed(line_->claim, claim_);
  std::atomic_thread_fence(std::memory_order_release);  // readers see the claim before any slot it reuses
  const std::uint64_t take = std::min(n, capacity_);
  const events::Event* src = batch.data() + (n - take);
  const std::uint64_t lo = end - take, slot = lo & mask_, first = std::min(take, capacity_ - slot);
  std::memcpy(records_ + slot, src, first * kRecordSize);
  if (take > first) std::memcpy(records_, src + first, (take - first) * kRecordSize);
  head_ = end;
  store_release(line_->head, end);
}

void Producer::close() noexcept {
  if (!open_) return;
  open_ = false;
  store_release(map_.header().info.state, static_cast<std::uint32_t>(State::kClosed));
  map_ = Mapping();
  fd_.reset();  // releases the producer lock
}

void Producer::unlink() noexcept { ::shm_unlink(shm_path(name_).c_str()); }

Producer::~Producer() { close(); }

std::uint64_t Producer::epoch() const noexcept { return open_ ? load_acquire(map_.header().info.epoch) : 0; }

std::size_t Producer::readers() const {
  if (!open_) return 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < kMaxConsumers; ++i) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(kConsumersOffset + i * kCacheLine);
    fl.l_len = static_cast<off_t>(kCacheLine);
    if (::fcntl(fd_.get(), F_OFD_GETLK, &fl) != 0) throw_errno("fcntl(F_OFD_GETLK) on the shm ring");
    if (fl.l_type != F_UNLCK) ++n;
  }
  return n;
}

}  // namespace tickgate::shm
