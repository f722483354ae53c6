// UdpReceiver: a live MoldUDP64 feed received natively. recvmmsg batches from a UDP socket (multicast group
// or unicast address), each packet stamped with the kernel's receive time (SO_TIMESTAMPNS), put in sequence
// order by a MoldSequencer (gaps held back and re-requested on a second socket), packed into a DMA batch
// (protocol.moldudp64.pack_dma's layout) for a Device. No Python runs per packet. With `line_b`, a second
// group carries line B of the same stream: the sequencer takes the first copy and re-requests only what both
// lines lost; each packet goes to the card with its line (DmaFlag.LINE_B).
//
// Clocks: every rx time the host handles is CLOCK_MONOTONIC ns (time.perf_counter_ns on Linux). The kernel
// stamps CLOCK_REALTIME; each stamp is moved to CLOCK_MONOTONIC by the REALTIME - MONOTONIC offset sampled
// (between two MONOTONIC reads) right after the recvmmsg that returned it, so a clock step between batches
// does not skew later stamps. A packet without a kernel stamp gets the MONOTONIC time of its batch (counted).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "dma_batch.hpp"
#include "mold_sequencer.hpp"

namespace tickgate::driver {

struct UdpReceiverConfig {
  std::string group = "127.0.0.1";  // multicast group (224-239.x.x.x) or local unicast address
  std::uint16_t port = 0;  // 0: any free port (see address())
  std::string iface = "0.0.0.0";  // interface address for the multicast join and the re-request socket
  std::optional<std::pair<std::string, std::uint16_t>> rerequest;  // re-request server, if any
  std::optional<std::pair<std::string, std::uint16_t>> line_b;  // line B of the same stream (group, port), if any
  SequencerConfig sequencer;  // can_request is set from `rerequest`
  std::uint64_t idle_timeout_ns = 5'000'000'000;  // the feed ends after this long without a packet
  int rcvbuf = 8 << 20;  // SO_RCVBUF asked for
  std::size_t batch = 64;  // datagrams a recvmmsg takes, at most
  std::size_t max_datagram = 65535;  // bytes a datagram may have; a longer one is dropped (udp_truncated)
  std::uint64_t spin_ns = 0;  // before blocking in ppoll, retry non-blocking receives this long
};

/// A file descriptor, closed once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// CLOCK_MONOTONIC now, ns.
std::uint64_t monotonic_ns() noexcept;

class UdpReceiver final : private SequencerOutput {
 public:
  /// Opens and binds the sockets; throws std::system_error (errno) or std::invalid_argument.
  explicit UdpReceiver(UdpReceiverConfig config);
  ~UdpReceiver() override;
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  /// One step: takes what the sockets hold (a recvmmsg each), waiting up to `timeout_ns` for a first
  /// packet when none is queued (spinning `spin_ns` of it first); sequences it; checks the outstanding
  /// request's time; ends the feed when idle too long. The in-order packets of this step are in batch().
  /// Returns how many; 0 once ended.
  std::size_t receive(std::uint64_t timeout_ns);

  /// This step's in-order packets as one DMA batch (empty if none).
  std::span<const std::byte> batch() const noexcept { return batch_.bytes(); }

  /// Packets handed on since the last take that carry a Stock Directory message (R_MARK after the header).
  std::size_t directory_waiting() const noexcept { return directory_.size(); }
  std::vector<std::vector<std::byte>> take_directory() noexcept { return std::exchange(directory_, {}); }

  /// The end-of-session packet was handed on, or the feed was idle for idle_timeout_ns.
  bool ended() const noexcept { return ended_; }
  std::uint64_t packets_out() const noexcept { return packets_out_; }

  /// (address, port) the feed socket is bound to.
  std::pair<std::string, std::uint16_t> address() const { return address_of(sock_); }
  /// (address, port) the line B socket is bound to (line_b configured).
  std::pair<std::string, std::uint16_t> address_b() const { return address_of(sock_b_); }

  /// Every counter by name (`udp_` names; the first eleven are MoldUdpFeed.stats()' names).
  std::vector<std::pair<std::string_view, std::uint64_t>> counters() const;

  /// The kernel's receive stamp -> this process holding the packet (recvmmsg returned), ns, at quantile `q`
  /// (0 to 1) of every packet so far: the wake-up and kernel share of a packet's latency, which no host code
  /// can shorten. An upper bound within 19 % (4 buckets an octave); 0 before any packet.
  std::uint64_t receive_lag_ns(double q) const noexcept;

  /// Closes the sockets; the feed has ended (receive() returns 0).
  void close() noexcept;

 private:
  void packet(std::span<const std::byte> payload, std::uint64_t rx_ns, unsigned line) override;
  void request(std::span<const std::byte> request_packet) override;
  std::size_t drain(int fd, bool retransmit, unsigned line);
  std::size_t drain_both();
  static std::pair<std::string, std::uint16_t> address_of(const Fd& sock);
  void wait(std::uint64_t timeout_ns);

  struct Counters {
    std::uint64_t packets = 0, retransmitted = 0, idle_end = 0, truncated = 0, kernel_drops = 0,
                  no_kernel_stamp = 0, socket_errors = 0, request_send_errors = 0, batches = 0, bytes = 0,
                  directory_packets = 0, max_batch = 0, polls = 0, line_b_packets = 0;
  };

  UdpReceiverConfig config_;
  Fd sock_, sock_b_, rr_sock_;
  std::vector<std::byte> rr_addr_;  // sockaddr_in of the re-request server
  MoldSequencer seq_;
  DmaBatch batch_;
  std::vector<std::vector<std::byte>> directory_;
  // recvmmsg slots: a datagram buffer, its iovec and control space each
  std::vector<std::byte> buffers_;
  std::vector<std::byte> control_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
  Counters c_;
  std::array<std::uint64_t, 256> lag_{};  // receive lag histogram: 4 buckets an octave
  std::uint64_t packets_out_ = 0;
  std::uint64_t last_rx_ns_ = 0;
  bool started_ = false;
  bool ended_ = false;
};

}  // namespace tickgate::driver
