// The native order path (see order_path.hpp).
#include "order_path.hpp"

#include <time.h>

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "tickgate/protocol.hpp"

namespace tickgate::driver::orders {
namespace {

using events::Event;

constexpr auto kBbo = static_cast<std::uint8_t>(events::EventKind::kBbo);
constexpr auto kFire = static_cast<std::uint8_t>(events::EventKind::kFire);

template <class T>
T field(const std::byte* record, std::size_t offset) noexcept {
  T v;
  std::memcpy(&v, record + offset, sizeof v);
  return v;
}

/// A share count or price as the OUCH field holds it (Python's struct raises the same way past the width).
template <class T>
T wire_value(std::int64_t v, const char* what) {
  if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max()) {
    throw std::invalid_argument(std::string("OUCH ") + what + " out of range: " + std::to_string(v));
  }
  return static_cast<T>(v);
}

}  // namespace

std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

OrderPath::OrderPath(const Limits& limits, std::uint32_t first_token, EnterDefaults defaults,
                     std::optional<std::int64_t> manual_time)
    : risk_(limits, manual_time.value_or(monotonic_ns())), encoder_(std::move(defaults)),
      manual_(manual_time.has_value()), manual_time_(manual_time.value_or(0)), bid_(kLocates), ask_(kLocates),
      names_(kLocates), first_token_(first_token), next_token_(first_token) {
  if (first_token == 0) throw std::invalid_argument("the first token must be at least 1");
}

void OrderPath::set_time(std::optional<std::int64_t> t) noexcept {
  manual_ = t.has_value();
  manual_time_ = t.value_or(0);
}

void OrderPath::see_events(std::span<const std::byte> records) {
  if (records.size() % events::kEventSize) throw std::invalid_argument("events: not whole 64-byte records");
  for (std::size_t at = 0; at < records.size(); at += events::kEventSize) {
    const std::byte* r = records.data() + at;
    if (field<std::uint8_t>(r, offsetof(Event, kind)) != kBbo) continue;
    const auto loc = field<std::uint16_t>(r, offsetof(Event, locate));
    bid_[loc] = field<std::uint32_t>(r, offsetof(Event, bid_px));
    ask_[loc] = field<std::uint32_t>(r, offsetof(Event, ask_px));
  }
}

void OrderPath::on_events(std::span<const events::Event> batch) {
  for (const Event& e : batch) {
    if (e.kind == kBbo) {
      bid_[e.locate] = e.bid_px;
      ask_[e.locate] = e.ask_px;
    } else if (e.kind == kFire) {
      fire(events::view_as<events::FireEvent>(e));
    }
  }
}

void OrderPath::fire(const events::FireEvent& f) {
  ++fires_seen;
  const std::int64_t t = now();
  const char side = static_cast<char>(f.fire_side);
  const std::uint16_t locate = f.locate;
  int r = risk_.check_head(side, f.fire_shares, f.fire_price, t);  // the kill switch first, as for any order
  if (r < 0) {
    r = named(locate) ? risk_.check_tail(true, locate, side, f.fire_shares, f.fire_price, mid(locate), t)
                      : risk_.reject(Reason::kUnknownSymbol, t);
  }
  const std::uint32_t token = take_token(locate, side);
  FireOutcome o{f.fire_rule, f.fire_tag, token, kRejected, r, f.seq, locate, side, f.fire_shares, f.fire_price,
                static_cast<char>(f.fire_tif), static_cast<std::int64_t>(f.ts_local), 0, f.fire_left};
  if (r >= 0) {
    ++fires_refused;
    fires_.push_back(o);
    return;
  }
  risk_.opened(token, locate, side, f.fire_shares, f.fire_price);
  const auto packet = encoder_.enter(token, side, f.fire_shares, names_[locate], f.fire_price, o.tif);
  const std::int64_t sent = send(packet, active_, fires_sent);
  o.result = sent == 1 ? token : sent;
  o.reason = -1;
  if (sent == 1) o.send_ns = last_send_ns_;
  fires_.push_back(o);
}

std::int64_t OrderPath::mid(std::uint16_t locate) const noexcept {
  const std::int64_t b = bid_[locate], a = ask_[locate];
  if (b && a) return (a + b) / 2;
  return b ? b : a;
}

void OrderPath::set_symbol(std::uint16_t locate, std::string_view name) {
  if (name.empty() || name.size() > ouch::EnterOrder::Width::symbol) {
    throw std::invalid_argument("an OUCH symbol is 1 to 8 characters: '" + std::string(name) + "'");
  }
  names_[locate] = std::string(name);
}

std::uint32_t OrderPath::take_token(std::uint16_t locate, char side) {
  last_token_ = next_token_++;
  decided_.push_back({locate, side});
  return last_token_;
}

std::optional<std::pair<std::uint16_t, char>> OrderPath::order(std::uint32_t token) const noexcept {
  if (token < first_token_ || token - first_token_ >= decided_.size()) return std::nullopt;
  const Decided& d = decided_[token - first_token_];
  return std::pair{d.locate, d.side};
}

std::int64_t OrderPath::send(std::span<const std::byte> packet, bool active, std::uint64_t& counter) {
  if (!active) {
    ++not_sent;
    return kNotSent;
  }
  if (!writer_.write(packet)) {
    ++not_sent;
    return kDropped;
  }
  last_send_ns_ = monotonic_ns();
  ++counter;
  return 1;
}

std::int64_t OrderPath::enter(std::uint16_t locate, char side, std::int64_t shares, std::int64_t price, char tif,
                              bool active) {
  const std::int64_t t = now();
  int r = risk_.check_head(side, shares, price, t);
  if (r < 0) {
    if (!named(locate)) {
      pending_locate_ = locate;
      pending_side_ = side;
      return kNeedSymbol;
    }
    r = risk_.check_tail(true, locate, side, shares, price, mid(locate), t);
  }
  const std::uint32_t token = take_token(locate, side);
  if (r >= 0) {
    last_reason_ = r;
    return kRejected;
  }
  const auto qty = wire_value<std::uint32_t>(shares, "quantity");
  const auto px = wire_value<std::uint64_t>(price, "price");
  risk_.opened(token, locate, side, shares, price);
  const auto packet = encoder_.enter(token, side, qty, names_[locate], px, tif);
  const std::int64_t sent = send(packet, active, entered);
  return sent == 1 ? token : sent;
}

std::int64_t OrderPath::reject_unknown() {
  const int r = risk_.reject(Reason::kUnknownSymbol, now());
  take_token(pending_locate_, pending_side_);
  last_reason_ = r;
  return kRejected;
}

std::int64_t OrderPath::cancel(std::uint32_t token, std::int64_t shares, bool active) {
  if (!risk_.open().contains(token)) return kNotOpen;
  return send(encoder_.cancel(token, wire_value<std::uint32_t>(shares, "quantity")), active, cancels_sent);
}

std::int64_t OrderPath::replace(std::uint32_t token, std::int64_t shares, std::int64_t price, char tif,
                                bool active) {
  const auto it = risk_.open().find(token);
  if (it == risk_.open().end()) return kNotOpen;
  const OpenOrder o = it->second;
  const std::int64_t t = now();
  int r = risk_.check_head(o.side, shares, price, t);
  if (r < 0) r = risk_.check_tail(true, o.locate, o.side, shares, price, mid(o.locate), t, o.shares);
  const std::uint32_t new_token = take_token(o.locate, o.side);
  if (r >= 0) {
    last_reason_ = r;
    return kRejected;
  }
  const auto qty = wire_value<std::uint32_t>(shares, "quantity");
  const auto px = wire_value<std::uint64_t>(price, "price");
  risk_.replaced(token, new_token, shares, price);
  const std::int64_t sent = send(encoder_.replace(token, new_token, qty, px, tif), active, replaces_sent);
  return sent == 1 ? new_token : sent;
}

}  // namespace tickgate::driver::orders
