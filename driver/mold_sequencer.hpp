// MoldSequencer: MoldUDP64 packets put in sequence order, gaps held back and re-requested. The logic of
// host.feeds.udpfeed.MoldUdpFeed (_accept, _flush, _give_up, _check_timeout), decision for decision, with the
// same counters; no sockets here (UdpReceiver owns them), so it is tested on its own.
//
// A packet past the next expected sequence number is held (keyed by its first sequence number) and the
// missing range is asked for (a request packet: the downstream header's layout, at most max_request
// messages); answers fill the gap and the held packets follow. A request unanswered after gap_timeout_ns is
// repeated up to `retries` times, then the gap is given up: the next held packet goes on as it is and the
// card sees (counts, emits an event for) the gap. Without a re-request server every gap is given up at once.
//
// Two lines (config.two_lines: udp://A,B): the first copy wins, the other's is a duplicate; a hole of one line
// waits for the other line's copy (up to gap_timeout_ns, or until both lines are past it) before it is
// re-requested or given up. Packets go on with their line (re-requested ones as line A's).
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
  virtual void packet(std::span<const std::byte> payload, std::uint64_t rx_ns, unsigned line) = 0;
  virtual void request(std::span<const std::byte> request_packet) = 0;
};

struct SequencerConfig {
  bool can_request = false;  // a re-request server is configured
  std::uint64_t gap_timeout_ns = 50'000'000;
  unsigned retries = 3;
  std::uint64_t max_request = 1000;  // messages a request asks for, at most (1 to 65534)
  std::size_t max_held = 10'000;  // packets held back, at most (at least 1)
  bool two_lines = false;  // lines A and B of one stream
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
  std::uint64_t line_holes = 0;  // two lines: holes of one line that waited for the other's copy
  std::uint64_t line_holes_filled = 0;  // ... and that the other line filled
};

class MoldSequencer {
 public:
  /// Throws std::invalid_argument for max_request outside 1..65534 or max_held 0.
  MoldSequencer(SequencerConfig config, SequencerOutput& out);

  /// Takes one received packet of `line` (`now_ns`: CLOCK_MONOTONIC; `retransmitted`: a re-request's
  /// answer); whether the stream ended (end of session passed on).
  bool accept(std::span<const std::byte> payload, std::uint64_t rx_ns, std::uint64_t now_ns, unsigned line = 0,
              bool retransmitted = false);

  /// Repeats or gives up an unanswered request whose time is up, or stops a hole's wait for the other line;
  /// whether the stream ended.
  bool check_timeout(std::uint64_t now_ns);

  /// When the outstanding request (or a hole's wait for the other line) times out (CLOCK_MONOTONIC ns).
  std::optional<std::uint64_t> deadline() const noexcept;

  const SequencerCounters& counters() const noexcept { return c_; }
  std::size_t held() const noexcept { return held_.size(); }
  std::optional<std::uint64_t> expected() const noexcept { return expected_; }

 private:
  struct Held {
    std::vector<std::byte> payload;
    std::uint64_t rx_ns;
    unsigned line;
  };
  struct Request {
    std::uint64_t first, count, sent_ns;
  };

  void send_request(std::uint64_t first, std::uint64_t upto, std::uint64_t now_ns);
  bool flush(std::uint64_t now_ns);
  bool give_up(std::uint64_t now_ns);
  bool both_lost(std::uint64_t now_ns);
  bool open_gap(std::uint64_t now_ns);

  SequencerConfig config_;
  SequencerOutput& out_;
  std::optional<std::array<std::byte, 10>> session_;
  std::optional<std::uint64_t> expected_;
  std::map<std::uint64_t, Held> held_;  // first sequence number -> packet
  std::optional<Request> request_;  // outstanding
  unsigned tries_ = 0;
  std::optional<std::uint64_t> waiting_;  // two lines: since when a hole waits for the other line's copy
  std::array<std::optional<std::uint64_t>, 2> line_next_;  // per line: the sequence number after its latest
  SequencerCounters c_;
};

}  // namespace tickgate::driver
