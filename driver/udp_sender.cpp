// send_paced: see udp_sender.hpp.
#include "udp_sender.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "udp_receiver.hpp"

namespace tickgate::driver {

PacedSendResult send_paced(std::span<const std::span<const std::byte>> datagrams, const std::string& host,
                           std::uint16_t port, double rate_pps, double max_seconds, std::uint64_t quantum_ns) {
  if (!(rate_pps > 0)) throw std::invalid_argument("rate_pps must be positive");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) throw std::invalid_argument("not an IPv4 address: " + host);
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket");
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    throw std::system_error(errno, std::generic_category(), "connect");
  }
  constexpr std::size_t kBurst = 64;
  std::vector<iovec> iov(kBurst);
  std::vector<mmsghdr> msgs(kBurst);
  const double period_ns = 1e9 / rate_pps;
  const std::uint64_t limit_ns = static_cast<std::uint64_t>(max_seconds * 1e9);
  PacedSendResult r;
  if (quantum_ns) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // wake at the quantum, not 50 us later
  const std::uint64_t start = monotonic_ns();
  std::uint64_t now = start;
  for (std::size_t i = 0; i < datagrams.size() && now - start < limit_ns;) {
    const auto due = [&](std::size_t k) { return start + static_cast<std::uint64_t>(static_cast<double>(k) * period_ns); };
    if (quantum_ns && (now = monotonic_ns()) < due(i)) {  // sleep to the quantum boundary at or after due(i)
      const std::uint64_t wake = start + (due(i) - start + quantum_ns - 1) / quantum_ns * quantum_ns;
      const timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    while ((now = monotonic_ns()) < due(i)) {
    }
    r.max_behind_ns = std::max(r.max_behind_ns, now - due(i));
    std::size_t n = 0;
    while (n < kBurst && i + n < datagrams.size() && due(i + n) <= now) {
      const auto& d = datagrams[i + n];
      iov[n] = iovec{const_cast<std::byte*>(d.data()), d.size()};
      msgs[n] = mmsghdr{};
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      ++n;
    }
    const int sent = sendmmsg(fd.get(), msgs.data(), static_cast<unsigned>(n), 0);
    ++r.syscalls;
    if (sent < 0) {
      ++r.send_errors;  // the first of the burst is lost; the rest are tried again
      ++i;
      continue;
    }
    r.sent += static_cast<std::uint64_t>(sent);
    i += static_cast<std::size_t>(std::max(sent, 1));
    if (sent == 0) ++r.send_errors;
  }
  r.elapsed_ns = monotonic_ns() - start;
  return r;
}

}  // namespace tickgate::driver
