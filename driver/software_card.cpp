// SoftwareCard: the MoldUDP64 session (model/session.py), the DMA batch input and the event buffer.
// The per-message rules (model/card.py) are in software_messages.cpp.
#include "software_card.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "software_events.hpp"
#include "software_rules.hpp"

namespace tickgate::driver {

namespace c = regs::counter;
using mold::Header;

namespace {

/// Index of the counter named `name` in regs::kCounters.
std::uint8_t counter_index(std::string_view name) {
  for (std::size_t i = 0; i < regs::kCounters.size(); ++i) {
    if (regs::kCounters[i].name == name) return static_cast<std::uint8_t>(i);
  }
  throw std::logic_error("no counter named " + std::string(name));
}

}  // namespace

SoftwareCard::SoftwareCard(SoftwareCardConfig config)
    : track_all_(!config.symbols.has_value()),
      tracked_(1 << 16, false),
      book_index_(1 << 16, kNoBook),
      refused_(1 << 16, false),
      orders_(1 << 16),
      max_levels_(config.max_levels.value_or(BookSide::kUnbounded)),
      max_symbols_(config.max_symbols.value_or(std::numeric_limits<std::size_t>::max())),
      level_events_(config.level_events),
      rules_(config.max_rules) {
  if (config.max_rules < 1 || config.max_rules > rules::kMaxRules) {
    throw std::invalid_argument("max_rules must be 1 to " + std::to_string(rules::kMaxRules));
  }
  if (config.line_window) {
    if (*config.line_window > kMaxLineWindow) {
      throw std::invalid_argument("line_window must be an integer from 0 to " + std::to_string(kMaxLineWindow) +
                                  " packets, or None (one line), not " + std::to_string(*config.line_window));
    }
    window_ = config.line_window;
    quiet_ = {*window_, *window_};
  }
  if (config.max_levels == std::size_t{0}) throw std::invalid_argument("max_levels must be at least 1 or None");
  if (config.max_symbols == std::size_t{0}) throw std::invalid_argument("max_symbols must be at least 1 or None");
  if (level_events_ && (!config.max_levels || *config.max_levels > kMaxLevelEventsLevels)) {
    throw std::invalid_argument("level_events needs max_levels set and at most " +
                                std::to_string(kMaxLevelEventsLevels));
  }
  if (const auto& t = config.order_table) {
    if (t->bucket_bits < 1 || t->bucket_bits > OrderTable::kMaxBucketBits) {
      throw std::invalid_argument("bucket_bits must be 1 to " + std::to_string(OrderTable::kMaxBucketBits));
    }
    if (t->ways < 1) throw std::invalid_argument("ways must be at least 1");
    table_.emplace(t->bucket_bits, t->ways, t->stash);
  }
  if (config.symbols) {
    for (const std::string& s : *config.symbols) {
      if (s.empty() || s.size() > 8) throw std::invalid_argument("ITCH symbols are 1 to 8 characters: " + s);
      symbols_.push_back(s);
    }
  }
  if (config.session) {
    session_ = *config.session;
    has_session_ = true;
  }
  if (config.first_sequence) {
    expected_ = {false, *config.first_sequence};
    has_expected_ = true;
  }
  for (const itch::Message& m : itch::kMessages) {
    type_counter_[static_cast<unsigned char>(m.type)] = counter_index("type_" + std::string(1, m.type));
  }
  events_.reserve(1 << 16);
  books_.reserve(1024);
}

std::size_t SoftwareCard::feed_dma(std::span<const std::byte> batch) {
  using mold::DmaHeader;
  constexpr std::size_t kAlign = mold::kDmaAlign;
  std::size_t packets = 0;
  for (std::size_t pos = 0; pos < batch.size(); ++packets) {  // check the framing before using any of it
    if (batch.size() - pos < DmaHeader::kLength) throw std::invalid_argument("DMA batch ends inside a header");
    const std::size_t length = DmaHeader::length(batch.data() + pos);
    const std::size_t start = pos + DmaHeader::kLength;
    if (length > batch.size() - start) throw std::invalid_argument("DMA record runs past the batch end");
    pos = (start + length + kAlign - 1) / kAlign * kAlign;
  }
  for (std::size_t pos = 0; pos < batch.size();) {
    const std::byte* h = batch.data() + pos;
    const std::size_t length = DmaHeader::length(h);
    const std::size_t start = pos + DmaHeader::kLength;
    const std::uint16_t flags = DmaHeader::flags(h);
    const unsigned line = flags & mold::kDmaLineB ? 1 : 0;
    if (!(flags & mold::kDmaEndOfInput) || length) feed(batch.subspan(start, length), DmaHeader::rx_time_ns(h), line);
    if (flags & mold::kDmaEndOfInput) end_of_input();
    pos = (start + length + kAlign - 1) / kAlign * kAlign;
  }
  return packets;
}

std::size_t SoftwareCard::take_events(std::span<events::Event> out) noexcept {
  const std::size_t n = std::min(out.size(), pending_events());
  if (n) std::memcpy(static_cast<void*>(out.data()), events_.data() + head_, n * sizeof(events::Event));
  head_ += n;
  if (head_ == events_.size()) {
    events_.clear();
    head_ = 0;
  }
  return n;
}

void SoftwareCard::packet(std::span<const std::byte> packet, std::uint64_t rx_ns) {
  Counters& k = counters_;
  const std::size_t n = packet.size();
  if (n > mold::kMaxPacket) {  // no card takes it: dropped whole, not counted in `packets`
    ++k[c::packets_oversize];
    return;
  }
  ++k[c::packets];
  if (n < Header::kLength) {
    ++k[c::packets_malformed];
    return;
  }
  const std::byte* p = packet.data();
  const std::string_view session = Header::session(p);
  const std::uint64_t seq = Header::sequence_number(p);
  const std::uint16_t count = Header::message_count(p);
  const std::string_view current(session_.data(), session_.size());
  if (!has_session_) {
    std::copy(session.begin(), session.end(), session_.begin());
    has_session_ = true;
  } else if (session != current) {
    if (!ended_) {
      ++k[c::packets_wrong_session];
      return;
    }
    ++k[c::session_changes];
    std::copy(session.begin(), session.end(), session_.begin());
    has_expected_ = false;
    ended_ = false;
    session_event(events::SessionCode::kChanged, seq, rx_ns, p + Header::Offset::session);
  }
  if (!has_expected_) {
    expected_ = {false, seq};
    has_expected_ = true;
  }

  if (count == 0 || count == mold::kEndOfSession) {
    check_gap(seq, rx_ns);
    if (n != Header::kLength) ++k[c::packets_malformed];
    if (count == 0) {
      ++k[c::packets_heartbeat];
    } else {
      ++k[c::packets_end_of_session];
      if (!ended_) {
        ended_ = true;
        session_event(events::SessionCode::kEnd, seq, rx_ns, p + Header::Offset::session);
      }
    }
    return;
  }

  const Seq65 end = Seq65::sum(seq, count);  // may pass 2^64 - 1 (model/session.py)
  if (end <= expected_) {
    ++k[c::packets_duplicate];
    return;
  }
  check_gap(seq, rx_ns);
  const std::uint64_t skip = expected_.low - seq;  // messages at the head already seen (< count: no wrap)
  expected_ = end;

  std::size_t pos = Header::kLength;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (pos + mold::kBlockLength > n) {
      ++k[c::packets_malformed];  // fewer blocks than the count says
      return;
    }
    const std::size_t length = wire::read_u16(p + pos);
    pos += mold::kBlockLength;
    if (pos + length > n) {
      ++k[c::msg_truncated];
      ++k[c::messages];
      ++k[c::packets_malformed];
      return;
    }
    if (const std::size_t next = pos + length; next + mold::kBlockLength <= n) {  // the next message's order
      const std::size_t next_length = wire::read_u16(p + next);
      if (next + mold::kBlockLength + next_length <= n) prefetch_order(p + next + mold::kBlockLength, next_length);
    }
    if (i < skip) {
      ++k[c::messages_duplicate];
    } else {
      ++k[c::messages];
      message(p + pos, length, seq + i, rx_ns);  // modulo 2^64, as the event's field
    }
    pos += length;
  }
  if (pos != n) ++k[c::packets_malformed];  // bytes after the last counted block
}

void SoftwareCard::check_gap(std::uint64_t seq, std::uint64_t rx_ns) {
  if (Seq65{false, seq} <= expected_) return;
  const std::uint64_t missed = seq - expected_.low;  // expected_ < seq < 2^64 here
  ++counters_[c::seq_gaps];
  counters_[c::messages_missed] += missed;
  auto e = record<events::GapEvent>(0, 0, Msg{0, seq, 0, rx_ns});
  e.gap_expected = expected_.low;
  e.gap_received = seq;
  e.gap_missed = missed;
  push(e);
  expected_ = {false, seq};
}

void SoftwareCard::session_event(events::SessionCode code, std::uint64_t seq, std::uint64_t rx_ns,
                                 const std::byte* session) {
  auto e = record<events::SessionEvent>(0, 0, Msg{0, seq, 0, rx_ns});
  e.session_code = static_cast<std::uint8_t>(code);
  std::memcpy(e.session, session, sizeof e.session);
  push(e);
}

bool SoftwareCard::write_rule_register(std::uint32_t offset, std::uint32_t value) {
  bool refused = false;
  if (!rules_.write(offset, value, refused)) return false;
  if (refused) ++counters_[c::rule_writes_refused];
  return true;
}

void SoftwareCard::fire_rules(const events::BboEvent& bbo) {
  rules_.armed_of(bbo.locate, armed_scratch_);
  for (const std::uint32_t i : armed_scratch_) {
    const ArmedRule& r = rules_.rule(i);
    if (!r.holds(bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz)) continue;
    if (bbo.flags & static_cast<std::uint8_t>(events::EventFlag::kDegraded)) {
      ++counters_[c::rules_held_degraded];
      continue;
    }
    const auto price = r.order_price(bbo.bid_px, bbo.ask_px);
    if (!price) {
      ++counters_[c::rules_no_price];
      continue;
    }
    const std::uint32_t left = rules_.fire(i);
    if (left == 0) ++counters_[c::rules_disarmed];
    events::FireEvent e{};
    std::memcpy(static_cast<void*>(&e), &bbo, 32);  // the common fields are the BBO event's
    e.kind = static_cast<std::uint8_t>(events::EventKind::kFire);
    e.fire_rule = static_cast<std::uint16_t>(i);
    e.fire_side = r.side;
    e.fire_tif = r.tif;
    e.fire_shares = r.shares;
    e.fire_price = *price;
    e.fire_left = left;
    e.fire_tag = r.tag;
    e.fire_condition = static_cast<std::uint8_t>(r.condition);
    push(e);
  }
}

}  // namespace tickgate::driver
