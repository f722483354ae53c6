// MoldSequencer: MoldUDP64 packets put in sequence order, gaps held back and re-requested. The logic of
// host.feeds.udpfeed.MoldUdpFeed (_accept, _flush, _give_up, _check_timeout), decision for decision, with the
// same counters; no sockets here (UdpReceiver owns them), so it is tested on its own.
//
// A packet past the next expected sequence number is held (keyed by its first sequence number) and the
// missing range is asked for (a request packet: the downstream header's layout, at most max_request
// messages); answers fill the gap and the held packets follow. A request unanswered after gap_timeout_ns is
// repeated up to `retries` times, then the gap is given up: the next held packet goes on as it is and the
// card sees (counts, emits an event for) the gap. Without a re-request server every gap is given up at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace tickgate::driver {

/// Where the sequencer's output goes: in-order packets (with their receive times) and re-request packets.
class SequencerOutput {
 public:
  virtual ~SequencerOutput() = default;
  virtual void packet(std::span<const std::byte> payload, std::uint64_t rx_ns) = 0;
  virtual void request(std::span<const std::byte> request_packet) = 0;
};

struct SequencerConfig {
  bool can_request = false;  // a re-request server is configured
  std::uint64_t gap_timeout_ns = 50'000'000;
  unsigned retries = 3;
  std::uint64_t max_request = 1000;  // messages a request asks for, at most (1 to 65534)
  std::size_t max_held = 10'000;  // packets held back, at most (at least 1)
};

/// Every decision, counted (names as in MoldUdpFeed's stats, `udp_` prefixed by the receiver).
struct SequencerCounters {
  std::uint64_t gaps = 0;
  std::uint64_t rerequests = 0;
  std::uint64_t rerequest_retries = 0;
  std::uint64_t gaps_given_up = 0;
  std::uint64_t messages_given_up = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t wrong_session_passed = 0;
  std::uint64_t held_overflow = 0;
  std::uint64_t held_duplicates = 0;  // a packet whose first sequence number was already held: not held twice
  std::uint64_t short_passed = 0;  // shorter than a MoldUDP64 header: passed on for the card to count
};

class MoldSequencer {
 public:
  /// Throws std::invalid_argument for max_request outside 1..65534 or max_held 0.
  MoldSequencer(SequencerConfig config, SequencerOutput& out);

  /// Takes one received packet (`now_ns`: CLOCK_MONOTONIC); whether the stream ended (end of session passed on).
  bool accept(std::span<const std::byte> payload, std::uint64_t rx_ns, std::uint64_t now_ns);

  /// Repeats or gives up an unanswered request whose time is up; whether the stream ended.
  bool check_timeout(std::uint64_t now_ns);

  /// When the outstanding request times out (CLOCK_MONOTONIC ns), if one is outstanding.
  std::optional<std::uint64_t> deadline() const noexcept;

  const SequencerCounters& counters() const noexcept { return c_; }
  std::size_t held() const noexcept { return held_.size(); }
  std::optional<std::uint64_t> expected() const noexcept { return expected_; }

 private:
  struct Held {
    std::vector<std::byte> payload;
    std::uint64_t rx_ns;
  };
  struct Request {
    std::uint64_t first, count, sent_ns;
  };

  void send_request(std::uint64_t first, std::uint64_t upto, std::uint64_t now_ns);
  bool flush(std::uint64_t now_ns);
  bool give_up(std::uint64_t now_ns);

  SequencerConfig config_;
  SequencerOutput& out_;
  std::optional<std::array<std::byte, 10>> session_;
  std::optional<std::uint64_t> expected_;
  std::map<std::uint64_t, Held> held_;  // first sequence number -> packet
  std::optional<Request> request_;  // outstanding
  unsigned tries_ = 0;
  SequencerCounters c_;
};

}  // namespace tickgate::driver
