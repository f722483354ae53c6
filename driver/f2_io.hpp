// What the f2 backend asks of the system besides files: host memory the card can write (the event ring and its
// head line, with their bus addresses), the store fence that publishes packet stores, and the pause of an
// empty poll. One seam, F2Io, so a test can stand in for the card (f2_fake.hpp); SystemF2Io is the real thing.
//
// Bus addresses (SystemF2Io::pin_ring). The card reaches host memory by PCIM writes to bus addresses. An EC2
// F2 guest has no IOMMU of its own (AWS's F2 DPDK example binds igb_uio, which has none, and hands the card
// physical addresses of hugepages), so a bus address is the physical address: the ring is allocated from a
// 2 MiB hugepage where the system has one reserved (physically contiguous by construction), else from
// ordinary pages, locked (mlock); every page's physical address is read from /proc/self/pagemap and the ring
// must be physically contiguous (one 4 KiB page always is: a ring of 2**6 records). Privileges: reading
// physical addresses from pagemap needs CAP_SYS_ADMIN (the kernel shows others zeros); locking needs
// CAP_IPC_LOCK or an RLIMIT_MEMLOCK above the ring's size; enabling the card's bus mastering writes its PCI
// config space (root). In short: run as root, with hugepages reserved
// (echo 8 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages). Not supported: a guest IOMMU (VFIO would
// be the way; the ring's pinning and its bus address are this seam's only business if that is added).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "f1_io.hpp"

namespace tickgate::driver {

/// Host memory the card writes over PCIM: a ring of `ring_bytes` (aligned to f2::kRingAlign, physically
/// contiguous) and a separate 64-byte head line, each with the bus address the card is given.
struct HostRing {
  std::byte* ring = nullptr;
  std::size_t ring_bytes = 0;
  std::uint64_t ring_bus = 0;
  std::byte* head = nullptr;
  std::uint64_t head_bus = 0;
  std::string how;  // where it came from, for messages: "a 2 MiB hugepage", "locked 4 KiB pages"
};

/// PosixIo (BAR files, the PCI config file) plus the card's view of host memory and of stores.
class F2Io : public PosixIo {
 public:
  /// Pinned, zeroed memory for a ring of `ring_bytes` (a power of two, at least one page) and a head line;
  /// DeviceError kIo saying which privilege or setting is missing.
  virtual HostRing pin_ring(std::size_t ring_bytes) = 0;
  /// Gives back what pin_ring gave (the card must no longer write it: ring_control cleared first).
  virtual void unpin_ring(HostRing& ring) noexcept = 0;
  /// Makes the stores into the ingress window so far visible to the card, `bytes` of them since the last
  /// fence, from a line boundary (a store fence; the fake card takes the bytes here, since plain memory
  /// cannot see a store).
  virtual void store_fence(std::size_t bytes) noexcept = 0;
  /// One empty poll of the head line (a CPU pause; the fake card moves here).
  virtual void poll_pause() noexcept = 0;
};

/// The real system: system calls, hugepages or locked pages, /proc/self/pagemap, sfence, pause.
class SystemF2Io final : public F2Io {
 public:
  int open(const std::string& path, int flags) override { return sys_.open(path, flags); }
  ssize_t pread(int fd, void* buf, std::size_t count, off_t offset) override {
    return sys_.pread(fd, buf, count, offset);
  }
  ssize_t pwrite(int fd, const void* buf, std::size_t count, off_t offset) override {
    return sys_.pwrite(fd, buf, count, offset);
  }
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override {
    return sys_.mmap(length, prot, flags, fd, offset);
  }
  int munmap(void* addr, std::size_t length) override { return sys_.munmap(addr, length); }
  int close(int fd) override { return sys_.close(fd); }

  HostRing pin_ring(std::size_t ring_bytes) override;
  void unpin_ring(HostRing& ring) noexcept override;
  void store_fence(std::size_t bytes) noexcept override;
  void poll_pause() noexcept override;

 private:
  SystemIo sys_;
  std::size_t ring_len_ = 0;  // bytes mapped for the ring (a whole number of hugepages, or of pages)
};

}  // namespace tickgate::driver
