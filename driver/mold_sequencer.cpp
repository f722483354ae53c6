// MoldSequencer: see mold_sequencer.hpp. Each function mirrors its namesake in host/feeds/udpfeed.py.
#include "mold_sequencer.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

namespace {
using H = mold::Header;
}  // namespace

MoldSequencer::MoldSequencer(SequencerConfig config, SequencerOutput& out) : config_(config), out_(out) {
  if (config_.max_request < 1 || config_.max_request >= mold::kEndOfSession) {
    throw std::invalid_argument("max_request must be 1 to 65534 messages, not " + std::to_string(config_.max_request));
  }
  if (config_.max_held < 1) throw std::invalid_argument("max_held must be at least 1 packet");
}

std::optional<std::uint64_t> MoldSequencer::deadline() const noexcept {
  if (waiting_) return *waiting_ + config_.gap_timeout_ns;  // no request is outstanding while a hole waits
  if (!request_) return std::nullopt;
  return request_->sent_ns + config_.gap_timeout_ns;
}

void MoldSequencer::send_request(std::uint64_t first, std::uint64_t upto, std::uint64_t now_ns) {
  const std::uint64_t count = std::min(upto - first, config_.max_request);
  std::array<std::byte, H::kLength> req{};
  std::memcpy(req.data() + H::Offset::session, session_->data(), H::Width::session);
  for (std::size_t i = 0; i < 8; ++i) req[H::Offset::sequence_number + i] = std::byte(first >> (56 - 8 * i) & 0xFF);
  req[H::Offset::message_count] = std::byte(count >> 8 & 0xFF);
  req[H::Offset::message_count + 1] = std::byte(count & 0xFF);
  out_.request(req);
  request_ = Request{first, count, now_ns};
  ++c_.rerequests;
}

bool MoldSequencer::accept(std::span<const std::byte> payload, std::uint64_t rx_ns, std::uint64_t now_ns,
                           unsigned line, bool retransmitted) {
  if (payload.size() < H::kLength) {
    ++c_.short_passed;
    out_.packet(payload, rx_ns, line);  // malformed: the card counts it
    return false;
  }
  const std::byte* p = payload.data();
  std::array<std::byte, 10> session;
  std::memcpy(session.data(), p + H::Offset::session, session.size());
  const std::uint64_t seq = H::sequence_number(p);
  const std::uint16_t count = H::message_count(p);
  if (!session_) {
    session_ = session;
  } else if (session != *session_) {
    ++c_.wrong_session_passed;
    out_.packet(payload, rx_ns, line);  // the card counts it, or adopts it after an end of session
    return false;
  }
  if (!expected_) expected_ = seq;
  const bool special = count == 0 || count == mold::kEndOfSession;
  const std::uint64_t end = special ? seq : seq + count;
  if (!retransmitted) line_next_[line] = std::max(line_next_[line].value_or(0), end);
  if (!special && end <= *expected_) {
    ++c_.duplicates_dropped;
    return both_lost(now_ns);
  }
  if (seq > *expected_) {
    if (!held_.contains(seq)) {
      if (held_.size() >= config_.max_held) {
        ++c_.held_overflow;
        const bool ended = give_up(now_ns);
        return accept(payload, rx_ns, now_ns, line, retransmitted) || ended;
      }
      held_.emplace(seq, Held{{payload.begin(), payload.end()}, rx_ns, line});
    } else {
      ++c_.held_duplicates;
    }
    if (!request_ && !waiting_) {
      if (config_.two_lines) {
        ++c_.line_holes;
        waiting_ = now_ns;  // the other line may have it
        return both_lost(now_ns);
      }
      return open_gap(now_ns);
    }
    return both_lost(now_ns);
  }
  out_.packet(payload, rx_ns, line);
  if (special) return count == mold::kEndOfSession && held_.empty();
  expected_ = end;
  return flush(now_ns);
}

bool MoldSequencer::both_lost(std::uint64_t now_ns) {
  if (!waiting_ || held_.empty()) return false;
  for (const auto& next : line_next_) {
    if (!next || *next <= *expected_) return false;
  }
  waiting_.reset();
  return open_gap(now_ns);
}

bool MoldSequencer::open_gap(std::uint64_t now_ns) {
  ++c_.gaps;
  tries_ = 0;
  if (!config_.can_request) return give_up(now_ns);  // an end of session held behind the gap ends the stream now
  send_request(*expected_, held_.begin()->first, now_ns);
  return false;
}

bool MoldSequencer::flush(std::uint64_t now_ns) {
  bool ended = false;
  while (!held_.empty()) {
    auto it = held_.begin();
    const std::uint64_t first = it->first;
    if (first > *expected_) {
      if (request_ && request_->first + request_->count <= *expected_) {
        tries_ = 0;
        send_request(*expected_, first, now_ns);  // the rest of a long gap
      }
      break;
    }
    const Held held = std::move(it->second);
    held_.erase(it);
    const std::uint64_t seq = H::sequence_number(held.payload.data());
    const std::uint16_t count = H::message_count(held.payload.data());
    out_.packet(held.payload, held.rx_ns, held.line);
    if (count == mold::kEndOfSession) {
      ended = true;
    } else if (count) {
      expected_ = std::max(*expected_, seq + count);
    }
  }
  if (held_.empty()) {
    if (waiting_) ++c_.line_holes_filled;  // the other line had it
    request_.reset();
    waiting_.reset();
  }
  return ended;
}

bool MoldSequencer::give_up(std::uint64_t now_ns) {
  if (held_.empty()) {
    request_.reset();
    return false;
  }
  const std::uint64_t first = held_.begin()->first;
  waiting_.reset();
  ++c_.gaps_given_up;
  c_.messages_given_up += first - *expected_;
  expected_ = first;
  request_.reset();
  return flush(now_ns);
}

bool MoldSequencer::check_timeout(std::uint64_t now_ns) {
  if (waiting_ && now_ns - *waiting_ >= config_.gap_timeout_ns) {
    waiting_.reset();  // the other line did not bring it in time
    return held_.empty() ? false : open_gap(now_ns);
  }
  if (!request_ || now_ns - request_->sent_ns < config_.gap_timeout_ns) return false;
  if (tries_ < config_.retries) {
    ++tries_;
    ++c_.rerequest_retries;
    send_request(*expected_, held_.begin()->first, now_ns);
    return false;
  }
  return give_up(now_ns);
}

}  // namespace tickgate::driver
