// SystemIo: the real system calls behind PosixIo.
#include "f1_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tickgate::driver {

std::string errno_text(int err) {
  const char* name = err == EIO ? "EIO" : err == ETIMEDOUT ? "ETIMEDOUT" : err == ENOENT ? "ENOENT"
                   : err == EACCES ? "EACCES" : err == EPERM ? "EPERM" : err == ENODEV ? "ENODEV"
                   : err == ENOMEM ? "ENOMEM" : nullptr;
  return std::string(std::strerror(err)) + (name ? std::string(" (") + name + ")" : "");
}

int SystemIo::open(const std::string& path, int flags) { return ::open(path.c_str(), flags | O_CLOEXEC); }

ssize_t SystemIo::pread(int fd, void* buf, std::size_t count, off_t offset) {
  return ::pread(fd, buf, count, offset);
}

ssize_t SystemIo::pwrite(int fd, const void* buf, std::size_t count, off_t offset) {
  return ::pwrite(fd, buf, count, offset);
}

void* SystemIo::mmap(std::size_t length, int prot, int flags, int fd, off_t offset) {
  return ::mmap(nullptr, length, prot, flags, fd, offset);
}

int SystemIo::munmap(void* addr, std::size_t length) { return ::munmap(addr, length); }

int SystemIo::close(int fd) { return ::close(fd); }

}  // namespace tickgate::driver
