// FakeFiles: the paths a fake card (f1_fake, f2_fake) serves itself, as descriptors far above real ones; the
// fake passes every other path and descriptor to the real system calls. Test doubles only.
#pragma once

#include <unistd.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>

namespace tickgate::driver {

template <std::size_t N>
class FakeFiles {
 public:
  static constexpr int kFdBase = 1 << 20;

  explicit FakeFiles(std::array<std::string, N> paths) : paths_(std::move(paths)) {}

  /// The descriptor of served file `k`.
  static constexpr int fd(std::size_t k) noexcept { return kFdBase + static_cast<int>(k); }
  /// Whether `fd` is one of the served files' descriptors.
  static constexpr bool served(int fd) noexcept { return fd >= kFdBase && fd < kFdBase + static_cast<int>(N); }
  bool is_open(std::size_t k) const noexcept { return open_[k]; }

  /// `path` opened if it is served: its descriptor, or -1 (errno from access) if it was deleted from the fake
  /// tree; nullopt if it is not served.
  std::optional<int> open(const std::string& path) {
    for (std::size_t k = 0; k < N; ++k) {
      if (path != paths_[k]) continue;
      if (::access(path.c_str(), F_OK) != 0) return -1;
      open_[k] = true;
      return fd(k);
    }
    return std::nullopt;
  }

  /// Closes `fd` if it is served; whether it was.
  bool close(int fd) noexcept {
    if (!served(fd)) return false;
    open_[static_cast<std::size_t>(fd - kFdBase)] = false;
    return true;
  }

 private:
  std::array<std::string, N> paths_;
  std::array<bool, N> open_{};
};

}  // namespace tickgate::driver
