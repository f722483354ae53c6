// SystemF2Io: pinned host memory and its physical addresses, the store fence, the poll pause (see f2_io.hpp).
#include "f2_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "device.hpp"

namespace tickgate::driver {

namespace {

using Kind = DeviceError::Kind;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kHugePage = 2u << 20;

/// Physical addresses of the pages of [p, p + len) from /proc/self/pagemap (entry: bit 63 present, bits 0-54
/// the frame number). kRefused when the kernel hides them (no CAP_SYS_ADMIN) or a page is not present.
std::vector<std::uint64_t> physical(const std::byte* p, std::size_t len) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DeviceError(Kind::kIo, "cannot open /proc/self/pagemap: " + errno_text(errno) +
                                          ": the f2 backend reads the ring's physical addresses there");
  }
  std::vector<std::uint64_t> out;
  for (std::size_t at = 0; at < len; at += kPage) {
    std::uint64_t entry = 0;
    const auto page = reinterpret_cast<std::uintptr_t>(p + at) / kPage;
    const ssize_t r = ::pread(fd, &entry, sizeof entry, static_cast<off_t>(page * sizeof entry));
    const std::uint64_t frame = entry & ((std::uint64_t{1} << 55) - 1);
    if (r != static_cast<ssize_t>(sizeof entry) || !(entry >> 63) || frame == 0) {
      ::close(fd);
      throw DeviceError(Kind::kIo,
                        "/proc/self/pagemap gives no physical address for the f2 event ring: the card writes events "
                        "into host memory at bus addresses, which on F2 (no IOMMU) are physical addresses, and the "
                        "kernel shows them only to a process with CAP_SYS_ADMIN: run as root");
    }
    out.push_back(frame * kPage);
  }
  ::close(fd);
  return out;
}

/// `len` bytes of zeroed, locked memory: hugepages when `huge` and the system has them reserved.
std::byte* map_locked(std::size_t len, bool huge) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (huge ? MAP_HUGETLB : 0);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (::mlock(p, len) != 0) {
    const int err = errno;
    ::munmap(p, len);
    throw DeviceError(Kind::kIo, "cannot lock " + std::to_string(len) + " bytes for the f2 event ring: " +
                                          errno_text(err) + ": run as root (CAP_IPC_LOCK) or raise `ulimit -l`");
  }
  std::memset(p, 0, len);
  return static_cast<std::byte*>(p);
}

}  // namespace

HostRing SystemF2Io::pin_ring(std::size_t ring_bytes) {
  HostRing r;
  r.ring_bytes = ring_bytes;
  ring_len_ = (ring_bytes + kHugePage - 1) / kHugePage * kHugePage;
  r.ring = map_locked(ring_len_, true);
  r.how = "2 MiB hugepages";
  if (r.ring == nullptr) {
    ring_len_ = (ring_bytes + kPage - 1) / kPage * kPage;
    r.ring = map_locked(ring_len_, false);
    r.how = "locked 4 KiB pages (no hugepage reserved)";
    if (r.ring == nullptr) {
      throw DeviceError(Kind::kIo, "cannot map " + std::to_string(ring_len_) + " bytes for the f2 event ring: " +
                                            errno_text(errno));
    }
  }
  r.head = map_locked(kPage, false);
  try {
    const auto frames = physical(r.ring, ring_bytes);
    for (std::size_t i = 1; i < frames.size(); ++i) {
      if (frames[i] != frames[0] + i * kPage) {
        throw DeviceError(Kind::kIo,
                          "the f2 event ring (" + std::to_string(ring_bytes) + " bytes, " + r.how +
                              ") is not physically contiguous, and the card writes it as one range: reserve "
                              "hugepages (echo 8 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) or use "
                              "a ring of one page (ring_log2=6)");
      }
    }
    r.ring_bus = frames[0];
    r.head_bus = physical(r.head, kPage)[0];
  } catch (...) {
    unpin_ring(r);
    throw;
  }
  return r;
}

void SystemF2Io::unpin_ring(HostRing& ring) noexcept {
  if (ring.ring != nullptr) ::munmap(ring.ring, ring_len_);
  if (ring.head != nullptr) ::munmap(ring.head, kPage);
  ring = HostRing{};
}

void SystemF2Io::store_fence(std::size_t) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_sfence();
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

void SystemF2Io::poll_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace tickgate::driver
