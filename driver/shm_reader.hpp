// The shared-memory event ring's reader, header-only, for C++ clients: open a segment by name, poll batches of
// 64-byte events, count what was missed. The layout and the publish/read protocol are protocol/shm_ring.py's
// (generated into tickgate/protocol.hpp, namespace tickgate::shm); the producer is shm_producer.hpp.
//
//   tickgate::shm::Reader reader{"tickgate-events"};
//   std::array<tickgate::events::Event, 256> buf;
//   for (;;) for (const auto& e : reader.poll(buf)) use(e);   // reader.missed(): records overwritten unread
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "tickgate/protocol.hpp"

namespace tickgate::shm {

/// The shm_open name of segment `name` ("/name"); a name is one path component of [A-Za-z0-9._-].
inline std::string shm_path(const std::string& name) {
  const bool ok = !name.empty() && name.size() < 200 && name != "." && name != ".." &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                           c == '_' || c == '-';
                  });
  if (!ok) throw std::invalid_argument("shm ring name must be letters, digits, '.', '_' or '-', not '" + name + "'");
  return "/" + name;
}

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// An open file descriptor, closed with its owner.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

/// A shared read-write mapping of a whole segment, unmapped with its owner.
class Mapping {
 public:
  Mapping() = default;
  Mapping(int fd, std::size_t size) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw_errno("mmap of the shm ring");
    base_ = static_cast<std::byte*>(p);
  }
  Mapping(Mapping&& o) noexcept : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      unmap();
      base_ = std::exchange(o.base_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { unmap(); }

  Header& header() const noexcept { return *reinterpret_cast<Header*>(base_); }
  events::Event* records() const noexcept { return reinterpret_cast<events::Event*>(base_ + kHeaderBytes); }
  std::size_t size() const noexcept { return size_; }

 private:
  void unmap() noexcept {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = nullptr;
  }
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

/// Lock (F_WRLCK) or unlock bytes [start, start + len) of `fd` for this open file description, without waiting
/// (OFD locks: one per reader or producer object, released when its descriptor closes or its process dies).
/// Whether it was taken; a lock held elsewhere is not an error.
inline bool ofd_lock(int fd, std::size_t start, std::size_t len, short type = F_WRLCK) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(start);
  fl.l_len = static_cast<off_t>(len);
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
  if (errno == EACCES || errno == EAGAIN) return false;
  throw_errno("fcntl(F_OFD_SETLK) on the shm ring");
}

template <class T>
inline T load_acquire(const T& v) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_acquire);
}
template <class T>
inline T load_relaxed(const T& v) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_relaxed);
}
template <class T>
inline void store_release(T& v, T x) noexcept {
  std::atomic_ref<T>(v).store(x, std::memory_order_release);
}
template <class T>
inline void store_relaxed(T& v, T x) noexcept {
  std::atomic_ref<T>(v).store(x, std::memory_order_relaxed);
}

/// Where a new reader starts: at the next record published, or at the oldest one the ring still holds.
enum class Start { kNewest, kOldest };

/// One reader of a segment. Never blocks and never slows the producer: records overwritten before it read them
/// are counted in `missed()`; every record published is either returned by `poll` or counted, once.
class Reader {
 public:
  explicit Reader(const std::string& name, Start start = Start::kNewest) : name_(name) {
    fd_.reset(::shm_open(shm_path(name).c_str(), O_RDWR, 0));
    if (fd_.get() < 0) throw_errno("shm ring '" + name + "': no such segment (is the producer running?)");
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("fstat of shm ring '" + name + "'");
    if (static_cast<std::size_t>(st.st_size) < kHeaderBytes) {
      throw std::runtime_error("shm ring '" + name + "': not a tickgate ring (too small)");
    }
    map_ = Mapping(fd_.get(), static_cast<std::size_t>(st.st_size));
    const Info& info = map_.header().info;
    if (load_acquire(info.magic) != kMagic || info.version != kVersion || info.record_size != kRecordSize) {
      throw std::runtime_error("shm ring '" + name + "': not a tickgate ring of layout version " +
                               std::to_string(kVersion));
    }
    capacity_ = info.capacity;
    if (capacity_ < 2 || (capacity_ & (capacity_ - 1)) != 0 ||
        kHeaderBytes + capacity_ * kRecordSize > map_.size()) {
      throw std::runtime_error("shm ring '" + name + "': capacity and size disagree");
    }
    mask_ = capacity_ - 1;
    epoch_ = load_acquire(info.epoch);
    const std::uint64_t head = load_acquire(map_.header().producer.head);
    if (start == Start::kNewest) next_ = head;
    else next_ = head > capacity_ ? head - capacity_ : 0;
    for (std::size_t i = 0; i < kMaxConsumers && slot_ == nullptr; ++i) {
      if (ofd_lock(fd_.get(), kConsumersOffset + i * kCacheLine, kCacheLine)) slot_ = &map_.header().consumers[i];
    }
    if (slot_ == nullptr) throw std::runtime_error("shm ring '" + name + "': all reader slots are taken");
    store_relaxed(slot_->missed, std::uint64_t{0});
    store_relaxed(slot_->pid, static_cast<std::uint32_t>(::getpid()));
    store_relaxed(slot_->next, next_);
  }

  /// Up to out.size() new records, copied into `out`; the returned span (a part of `out`) may be empty.
  std::span<const events::Event> poll(std::span<events::Event> out) {
    const ProducerLine& p = map_.header().producer;
    const std::uint64_t head = load_acquire(p.head);
    if (head == next_) {
      idle();
      return {};
    }
    if (head < next_) {  // only a segment remade under our feet; `stale()` says so
      next_ = head;
      return {};
    }
    std::uint64_t lo = next_;
    if (head - lo > capacity_) lo = head - capacity_;
    const std::uint64_t n = std::min<std::uint64_t>(head - lo, out.size());
    const events::Event* rec = map_.records();
    const std::uint64_t slot = lo & mask_, first = std::min(n, capacity_ - slot);
    std::memcpy(out.data(), rec + slot, first * kRecordSize);
    if (n > first) std::memcpy(out.data() + first, rec, (n - first) * kRecordSize);
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t claim = load_relaxed(p.claim);
    const std::uint64_t valid = std::max(lo, claim > capacity_ ? claim - capacity_ : 0);  // older ones overwritten
    const std::uint64_t end = lo + n;
    const std::uint64_t from = std::min(valid, end);
    missed_ += from - next_;
    next_ = std::max(valid, end);
    missed_ += next_ - end;  // the copy was wholly overwritten past its end too
    store_relaxed(slot_->next, next_);
    store_relaxed(slot_->missed, missed_);
    return {out.data() + (from - lo), static_cast<std::size_t>(end - from)};
  }

  /// Records overwritten before this reader got to them, since it opened.
  std::uint64_t missed() const noexcept { return missed_; }
  /// The index of the next record this reader returns.
  std::uint64_t next() const noexcept { return next_; }
  /// Producer restarts seen since this reader opened (the producer's epoch moved on).
  std::uint64_t restarts() const noexcept { return restarts_; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  /// The producer closed the segment (what it holds can still be read).
  bool closed() const noexcept { return state() == State::kClosed; }
  /// The segment was replaced by another under the same name: open a new Reader.
  bool stale() const noexcept { return state() == State::kStale; }
  const std::string& name() const noexcept { return name_; }

 private:
  State state() const noexcept { return static_cast<State>(load_acquire(map_.header().info.state)); }
  void idle() noexcept {
    const std::uint64_t epoch = load_acquire(map_.header().info.epoch);
    if (epoch != epoch_) {
      restarts_ += epoch - epoch_;
      epoch_ = epoch;
    }
  }

  std::string name_;
  Fd fd_;
  Mapping map_;
  ConsumerSlot* slot_ = nullptr;
  std::uint64_t capacity_ = 0, mask_ = 0, next_ = 0, missed_ = 0, epoch_ = 0, restarts_ = 0;
};

}  // namespace tickgate::shm
