// SoftwareCard: A/B line arbitration, the rules of model/lines.py: each line in its own order; a packet that
// would open a gap is held (with the rest of its line) while the other line is live, until the other line
// fills the hole, both lines are past it, the line runs more than the window ahead or holds more than
// mold::kLineBufferBytes (the gateware's buffer), or the input ends.
#include <string_view>

#include "software_card.hpp"

namespace tickgate::driver {

namespace c = regs::counter;
using mold::Header;

namespace {

constexpr std::size_t kLineCounters[2][4] = {
    {c::line_a_received, c::line_a_used, c::line_a_duplicate, c::line_a_late},
    {c::line_b_received, c::line_b_used, c::line_b_duplicate, c::line_b_late},
};
enum : std::size_t { kReceived, kUsed, kDuplicate, kLate };

bool whole(std::size_t n) noexcept { return n >= Header::kLength && n <= mold::kMaxPacket; }

/// protocol.moldudp64.held_bytes: a held packet's bytes in whole beats, at least one.
std::size_t held_bytes(std::size_t n) noexcept {
  return n == 0 ? mold::kDmaAlign : (n + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
}

}  // namespace

void SoftwareCard::feed(std::span<const std::byte> p, std::uint64_t rx_ns, unsigned line) {
  if (!window_) {
    packet(p, rx_ns);
    return;
  }
  line &= 1;
  const unsigned other = 1 - line;
  ++counters_[kLineCounters[line][kReceived]];
  quiet_[line] = 0;
  if (quiet_[other] < *window_) ++quiet_[other];
  if (held_[line].empty() && !ahead(p)) {
    release(p, rx_ns, line);  // what holding it and draining at once would do, without the copy
  } else {
    held_[line].push_back({std::vector<std::byte>(p.begin(), p.end()), rx_ns});
    held_bytes_[line] += held_bytes(p.size());
  }
  drain(false);
}

void SoftwareCard::end_of_input() {
  if (window_) drain(true);
}

void SoftwareCard::drain(bool force) {
  for (;;) {
    bool moved = false;
    for (unsigned line = 0; line < 2; ++line) {
      auto& q = held_[line];
      while (!q.empty() && !ahead(q.front().bytes)) {
        const Held h = std::move(q.front());
        q.pop_front();
        held_bytes_[line] -= held_bytes(h.bytes.size());
        release(h.bytes, h.rx_ns, line);
        moved = true;
      }
    }
    if (moved) continue;
    unsigned line;
    if (!held_[0].empty() && !held_[1].empty()) {  // both ahead: what lies below both starts is lost on both
      line = *ahead(held_[1].front().bytes) < *ahead(held_[0].front().bytes) ? 1 : 0;
    } else if (!held_[0].empty() || !held_[1].empty()) {
      line = held_[0].empty() ? 1 : 0;
      if (!force && held_[line].size() <= *window_ && held_bytes_[line] <= mold::kLineBufferBytes &&
          quiet_[1 - line] < *window_) {
        return;  // wait
      }
    } else {
      return;
    }
    const Held h = std::move(held_[line].front());
    held_[line].pop_front();
    held_bytes_[line] -= held_bytes(h.bytes.size());
    release(h.bytes, h.rx_ns, line);
  }
}

std::optional<std::uint64_t> SoftwareCard::ahead(std::span<const std::byte> p) const noexcept {
  if (!whole(p.size()) || !has_expected_) return std::nullopt;
  const std::string_view session = Header::session(p.data());
  if (has_session_ && session != std::string_view(session_.data(), session_.size())) return std::nullopt;
  const std::uint64_t seq = Header::sequence_number(p.data());
  if (Seq65{false, seq} <= expected_) return std::nullopt;
  return seq;
}

void SoftwareCard::release(std::span<const std::byte> p, std::uint64_t rx_ns, unsigned line) {
  if (whole(p.size())) {
    const std::string_view session = Header::session(p.data());
    const bool same = !has_session_ || session == std::string_view(session_.data(), session_.size());
    if (same || ended_) {
      const std::uint64_t seq = Header::sequence_number(p.data());
      const std::uint16_t count = Header::message_count(p.data());
      const bool known = same && has_expected_;
      const Seq65 start{false, seq};
      if (known && start > expected_) {
        gap_first_ = expected_;  // the session declares this gap on the packet
        gap_end_ = start;
      } else if (!same) {
        gap_first_ = gap_end_ = {};  // a new session
      }
      if (count != 0 && count != mold::kEndOfSession) {
        const Seq65 end = Seq65::sum(seq, count);
        std::size_t kind = kDuplicate;
        if (!known || end > expected_) {
          kind = kUsed;
        } else if (start < gap_end_ && end > gap_first_) {
          kind = kLate;
        }
        ++counters_[kLineCounters[line][kind]];
      }
    }
  }
  packet(p, rx_ns);
}

}  // namespace tickgate::driver
