// The five POSIX calls the f1 backend makes on its device paths, behind an interface.
//
// Why: a regular file cannot react to pwrite (bytes written to a fake /dev/xdma0_h2c_0 would never turn
// into events at /dev/xdma0_c2h_0), and the card cannot exist on a test machine. So F1Device does every
// open/pread/pwrite/mmap/close on `resource0` and the XDMA character devices through a PosixIo; the
// default, SystemIo, is the real system calls, one line each. Tests pass a FakeF1Card (f1_fake.hpp)
// instead, which serves those paths from a software model of the card, deterministically (no threads,
// no timing: the card's state moves only inside the calls). Everything else - the sysfs scan, the ID and
// image checks, the register protocol, the transfer loops and their errors - is the production code.
// sysfs files (vendor, device, ...) are read with ordinary file I/O: in tests they are real files in a
// temporary tree.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace tickgate::driver {

/// strerror(err) with the errno's name for the common cases: "Input/output error (EIO)".
std::string errno_text(int err);

/// open/pread/pwrite/mmap/munmap/close with the system's signatures and errno conventions.
class PosixIo {
 public:
  virtual ~PosixIo() = default;
  virtual int open(const std::string& path, int flags) = 0;
  virtual ssize_t pread(int fd, void* buf, std::size_t count, off_t offset) = 0;
  virtual ssize_t pwrite(int fd, const void* buf, std::size_t count, off_t offset) = 0;
  /// MAP_FAILED and errno on failure.
  virtual void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) = 0;
  virtual int munmap(void* addr, std::size_t length) = 0;
  virtual int close(int fd) = 0;
};

/// The real system calls.
class SystemIo final : public PosixIo {
 public:
  int open(const std::string& path, int flags) override;
  ssize_t pread(int fd, void* buf, std::size_t count, off_t offset) override;
  ssize_t pwrite(int fd, const void* buf, std::size_t count, off_t offset) override;
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override;
  int munmap(void* addr, std::size_t length) override;
  int close(int fd) override;
};

}  // namespace tickgate::driver
