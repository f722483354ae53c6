// UdpReceiver: see udp_receiver.hpp.
#include "udp_receiver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

namespace {

constexpr std::size_t kControlSpace = CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t));
// The Stock Directory mark host.market.R_MARK: a block length of 39 then the type byte 'R'.
constexpr std::byte kRMark[] = {std::byte{0}, std::byte{itch::StockDirectory::kLength}, std::byte{'R'}};

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

std::uint64_t ns_of(const timespec& t) noexcept {
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(t.tv_nsec);
}

std::uint64_t clock_ns(clockid_t clock) noexcept {
  timespec t{};
  clock_gettime(clock, &t);
  return ns_of(t);
}

/// REALTIME - MONOTONIC now, the MONOTONIC side the midpoint of two reads around the REALTIME one.
std::int64_t realtime_offset() noexcept {
  const std::uint64_t m1 = clock_ns(CLOCK_MONOTONIC);
  const std::uint64_t r = clock_ns(CLOCK_REALTIME);
  const std::uint64_t m2 = clock_ns(CLOCK_MONOTONIC);
  return static_cast<std::int64_t>(r - (m1 + (m2 - m1) / 2));
}

/// An IPv4 address by dotted quad or name; std::invalid_argument if neither.
in_addr resolve(const std::string& host) {
  in_addr a{};
  if (host.empty()) return in_addr{htonl(INADDR_ANY)};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return a;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    throw std::invalid_argument("UDP feed: cannot resolve " + host + " to an IPv4 address");
  }
  a = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return a;
}

sockaddr_in endpoint(in_addr a, std::uint16_t port) noexcept {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr = a;
  s.sin_port = htons(port);
  return s;
}

void set_option(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) fail(std::string("setsockopt ") + what);
}

/// A non-blocking UDP socket bound to `at`, with kernel receive stamps and drop counts in its control data.
Fd open_socket(const sockaddr_in& at, int rcvbuf) {
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) fail("socket");
  set_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (rcvbuf > 0) set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, rcvbuf, "SO_RCVBUF");
  set_option(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
  set_option(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &at.sin_addr, text, sizeof text);
    fail(std::string("bind ") + text + ":" + std::to_string(ntohs(at.sin_port)));
  }
  return fd;
}

/// The lag histogram's bucket of `ns`: exact below 8, then 4 buckets an octave.
std::size_t lag_bucket(std::uint64_t ns) noexcept {
  if (ns < 8) return static_cast<std::size_t>(ns);
  const unsigned b = static_cast<unsigned>(std::bit_width(ns)) - 1;  // 3..63
  return std::min<std::size_t>(b * 4 + ((ns >> (b - 2)) & 3), 255);
}

/// The largest lag of a bucket.
std::uint64_t lag_upper(std::size_t i) noexcept {
  if (i < 8) return i;
  const unsigned b = static_cast<unsigned>(i / 4);
  return (((std::uint64_t{4} | (i & 3)) + 1) << (b - 2)) - 1;
}

SequencerConfig with_request(SequencerConfig s, bool can_request, bool two_lines) {
  s.can_request = can_request;
  s.two_lines = two_lines;
  return s;
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void Fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::uint64_t monotonic_ns() noexcept { return clock_ns(CLOCK_MONOTONIC); }

UdpReceiver::UdpReceiver(UdpReceiverConfig config)
    : config_(std::move(config)),
      seq_(with_request(config_.sequencer, config_.rerequest.has_value(), config_.line_b.has_value()), *this) {
  if (config_.batch < 1 || config_.batch > 1024) throw std::invalid_argument("batch must be 1 to 1024 datagrams");
  if (config_.max_datagram < mold::kHeaderLength || config_.max_datagram > 0xFFFF) {
    throw std::invalid_argument("max_datagram must be 20 to 65535 bytes");
  }
  const in_addr iface = resolve(config_.iface);
  auto join = [&](const std::string& name, std::uint16_t port) {
    const in_addr group = resolve(name);
    if (!IN_MULTICAST(ntohl(group.s_addr))) return open_socket(endpoint(group, port), config_.rcvbuf);
    Fd sock = open_socket(endpoint(in_addr{htonl(INADDR_ANY)}, port), config_.rcvbuf);
    ip_mreq mreq{};
    mreq.imr_multiaddr = group;
    mreq.imr_interface = iface;
    if (setsockopt(sock.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      fail("IP_ADD_MEMBERSHIP " + name + " on " + config_.iface);
    }
    return sock;
  };
  sock_ = join(config_.group, config_.port);
  if (config_.line_b) sock_b_ = join(config_.line_b->first, config_.line_b->second);
  if (config_.rerequest) {
    rr_sock_ = open_socket(endpoint(iface, 0), 0);
    const sockaddr_in to = endpoint(resolve(config_.rerequest->first), config_.rerequest->second);
    rr_addr_.resize(sizeof to);
    std::memcpy(rr_addr_.data(), &to, sizeof to);
  }
  const std::size_t n = config_.batch;
  buffers_.resize(n * config_.max_datagram);
  control_.resize(n * kControlSpace);
  iovecs_.resize(n);
  headers_.resize(n);
}

UdpReceiver::~UdpReceiver() = default;

void UdpReceiver::close() noexcept {
  sock_.reset();
  sock_b_.reset();
  rr_sock_.reset();
  ended_ = true;  // nothing more can arrive
}

std::pair<std::string, std::uint16_t> UdpReceiver::address_of(const Fd& sock) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (!sock || getsockname(sock.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) fail("getsockname");
  char text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return {text, ntohs(a.sin_port)};
}

void UdpReceiver::packet(std::span<const std::byte> payload, std::uint64_t rx_ns, unsigned line) {
  batch_.append(payload, rx_ns, line ? mold::kDmaLineB : 0);
  ++packets_out_;
  if (payload.size() > mold::kHeaderLength &&
      std::search(payload.begin() + mold::kHeaderLength, payload.end(), std::begin(kRMark), std::end(kRMark)) !=
          payload.end()) {
    directory_.emplace_back(payload.begin(), payload.end());
    ++c_.directory_packets;
  }
}

void UdpReceiver::request(std::span<const std::byte> request_packet) {
  const ssize_t sent = sendto(rr_sock_.get(), request_packet.data(), request_packet.size(), MSG_DONTWAIT,
                              reinterpret_cast<const sockaddr*>(rr_addr_.data()), sizeof(sockaddr_in));
  if (sent != static_cast<ssize_t>(request_packet.size())) ++c_.request_send_errors;  // the retries try again
}

std::size_t UdpReceiver::drain(int fd, bool retransmit, unsigned line) {
  const std::size_t slots = config_.batch;
  for (std::size_t i = 0; i < slots; ++i) {
    iovecs_[i] = iovec{buffers_.data() + i * config_.max_datagram, config_.max_datagram};
    msghdr& h = headers_[i].msg_hdr;
    h = msghdr{};
    h.msg_iov = &iovecs_[i];
    h.msg_iovlen = 1;
    h.msg_control = control_.data() + i * kControlSpace;
    h.msg_controllen = kControlSpace;
  }
  const int got = recvmmsg(fd, headers_.data(), static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
  if (got <= 0) {
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++c_.socket_errors;
    return 0;
  }
  const std::int64_t offset = realtime_offset();
  const std::uint64_t now = monotonic_ns();
  ++c_.batches;
  c_.max_batch = std::max<std::uint64_t>(c_.max_batch, static_cast<std::uint64_t>(got));
  for (int i = 0; i < got; ++i) {
    msghdr& h = headers_[i].msg_hdr;
    const std::size_t length = headers_[i].msg_len;
    ++(retransmit ? c_.retransmitted : c_.packets);
    c_.line_b_packets += line;
    c_.bytes += length;
    std::uint64_t rx = 0;
    for (cmsghdr* m = CMSG_FIRSTHDR(&h); m != nullptr; m = CMSG_NXTHDR(&h, m)) {
      if (m->cmsg_level != SOL_SOCKET) continue;
      if (m->cmsg_type == SCM_TIMESTAMPNS) {
        timespec t;
        std::memcpy(&t, CMSG_DATA(m), sizeof t);
        rx = static_cast<std::uint64_t>(static_cast<std::int64_t>(ns_of(t)) - offset);
      } else if (m->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t drops;
        std::memcpy(&drops, CMSG_DATA(m), sizeof drops);
        c_.kernel_drops = std::max<std::uint64_t>(c_.kernel_drops, drops);  // the socket's drops so far
      }
    }
    if (rx == 0) {
      ++c_.no_kernel_stamp;
      rx = now;
    } else {
      ++lag_[lag_bucket(now > rx ? now - rx : 0)];
    }
    if (h.msg_flags & MSG_TRUNC) {
      ++c_.truncated;  // dropped whole: a cut packet would corrupt the book; the gap logic asks for it again
      continue;
    }
    const std::span<const std::byte> payload(buffers_.data() + static_cast<std::size_t>(i) * config_.max_datagram,
                                             length);
    ended_ = seq_.accept(payload, rx, now, line, retransmit) || ended_;
  }
  return static_cast<std::size_t>(got);
}

std::size_t UdpReceiver::drain_both() {
  std::size_t got = sock_ ? drain(sock_.get(), false, 0) : 0;
  if (sock_b_) got += drain(sock_b_.get(), false, 1);
  if (rr_sock_) got += drain(rr_sock_.get(), true, 0);
  return got;
}

void UdpReceiver::wait(std::uint64_t timeout_ns) {
  pollfd fds[3] = {{sock_.get(), POLLIN, 0}, {rr_sock_ ? rr_sock_.get() : -1, POLLIN, 0},
                   {sock_b_ ? sock_b_.get() : -1, POLLIN, 0}};  // a negative fd is ignored
  const timespec t{static_cast<time_t>(timeout_ns / 1'000'000'000u), static_cast<long>(timeout_ns % 1'000'000'000u)};
  ++c_.polls;
  ppoll(fds, 3, &t, nullptr);  // EINTR: back to the caller, which sees the signal
}

std::size_t UdpReceiver::receive(std::uint64_t timeout_ns) {
  batch_.clear();
  if (ended_ || !sock_) return 0;
  std::uint64_t now = monotonic_ns();
  if (!started_) {
    started_ = true;
    last_rx_ns_ = now;
  }
  std::size_t got = drain_both();
  if (got == 0 && timeout_ns > 0) {
    const std::uint64_t until = now + timeout_ns;
    const std::uint64_t spin_until = now + std::min(timeout_ns, config_.spin_ns);
    while (got == 0 && (now = monotonic_ns()) < spin_until) got = drain_both();
    if (got == 0 && now < until) {
      std::uint64_t wait_ns = until - now;
      if (const auto deadline = seq_.deadline()) wait_ns = std::min(wait_ns, *deadline > now ? *deadline - now : 0);
      wait(wait_ns);
      got = drain_both();
    }
  }
  if (ended_) {  // as MoldUdpFeed: what is already queued is still taken (and counted)
    while (drain_both() > 0) {
    }
  }
  now = monotonic_ns();
  if (got) last_rx_ns_ = now;
  ended_ = seq_.check_timeout(now) || ended_;
  if (got == 0 && !ended_ && now - last_rx_ns_ > config_.idle_timeout_ns) {
    ++c_.idle_end;
    ended_ = true;
  }
  return batch_.packets();
}

std::uint64_t UdpReceiver::receive_lag_ns(double q) const noexcept {
  std::uint64_t total = 0;
  for (const std::uint64_t n : lag_) total += n;
  if (total == 0) return 0;
  const double want = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < lag_.size(); ++i) {
    seen += lag_[i];
    if (lag_[i] && static_cast<double>(seen) >= want) return lag_upper(i);
  }
  return lag_upper(lag_.size() - 1);
}

std::vector<std::pair<std::string_view, std::uint64_t>> UdpReceiver::counters() const {
  const SequencerCounters& s = seq_.counters();
  return {
      {"udp_packets", c_.packets},
      {"udp_retransmitted", c_.retransmitted},
      {"udp_gaps", s.gaps},
      {"udp_rerequests", s.rerequests},
      {"udp_rerequest_retries", s.rerequest_retries},
      {"udp_gaps_given_up", s.gaps_given_up},
      {"udp_messages_given_up", s.messages_given_up},
      {"udp_duplicates_dropped", s.duplicates_dropped},
      {"udp_wrong_session_passed", s.wrong_session_passed},
      {"udp_idle_end", c_.idle_end},
      {"udp_held_overflow", s.held_overflow},
      {"udp_held_duplicates", s.held_duplicates},
      {"udp_short_passed", s.short_passed},
      {"udp_truncated", c_.truncated},
      {"udp_kernel_drops", c_.kernel_drops},
      {"udp_no_kernel_stamp", c_.no_kernel_stamp},
      {"udp_socket_errors", c_.socket_errors},
      {"udp_request_send_errors", c_.request_send_errors},
      {"udp_packets_out", packets_out_},
      {"udp_bytes", c_.bytes},
      {"udp_batches", c_.batches},
      {"udp_max_batch", c_.max_batch},
      {"udp_polls", c_.polls},
      {"udp_directory_packets", c_.directory_packets},
      {"udp_held", seq_.held()},
      {"udp_line_b_packets", c_.line_b_packets},
      {"udp_line_holes", s.line_holes},
      {"udp_line_holes_filled", s.line_holes_filled},
  };
}

}  // namespace tickgate::driver
