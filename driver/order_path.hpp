// The native order path: a strategy's order -> pre-trade risk -> OUCH 5.0 -> SoupBinTCP -> the socket, in one
// call. Python keeps the session (login, heartbeats, reconnect) and inbound parsing, and hands the updates back
// (on_update); the path keeps its own top of book per locate from the card's events (see_events) for the mids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "event_tap.hpp"
#include "order_risk.hpp"
#include "order_wire.hpp"

namespace tickgate::driver::orders {

/// What enter/cancel/replace did, when it is not a token (> 0).
enum Outcome : std::int64_t {
  kNotOpen = 0,  // cancel/replace of a token that is not open
  kNeedSymbol = -1,  // the locate has no name yet: name it (set_symbol) or reject_unknown, then call again
  kRejected = -2,  // by risk: last_reason(), token last_token()
  kNotSent = -3,  // passed risk and opened, but the session is not active
  kDropped = -4,  // passed risk and opened, but the write failed: the link is gone
};

/// monotonic nanoseconds, the clock of Python's time.perf_counter_ns().
std::int64_t monotonic_ns() noexcept;

/// What became of one FIRE event (protocol/rules.py): its rule and tag, the token it was given, the result
/// (a token: sent; kRejected: refused by risk, `reason`; kNotSent, kDropped), the order, and the times.
struct FireOutcome {
  std::uint16_t rule;
  std::uint32_t tag;
  std::uint32_t token;
  std::int64_t result;
  int reason;  // Reason index when refused, else -1
  std::uint64_t seq;  // of the triggering message
  std::uint16_t locate;
  char side;
  std::uint32_t shares;
  std::uint32_t price;
  char tif;
  std::int64_t rx_ns;  // the event's ts_local: the triggering packet's receive time
  std::int64_t send_ns;  // monotonic_ns() after the write (0 if not written)
  std::uint32_t left;  // fires left to the rule (0: the card disarmed it)
};

class OrderPath final : public EventTap {
 public:
  OrderPath(const Limits& limits, std::uint32_t first_token, EnterDefaults defaults,
            std::optional<std::int64_t> manual_time = std::nullopt);

  Risk& risk() noexcept { return risk_; }
  SoupWriter& writer() noexcept { return writer_; }

  /// Risk's clock: monotonic, or a time set from outside (tests, replays of recorded flow).
  std::int64_t now() const noexcept { return manual_ ? manual_time_ : monotonic_ns(); }
  void set_time(std::optional<std::int64_t> t) noexcept;

  /// Take the top of book of every BBO record in `records` (64-byte event records, in order).
  void see_events(std::span<const std::byte> records);

  /// As a device's tap (Device::take): the top of book of BBO events, and the order of each FIRE event, risk
  /// checked at fire time and sent (or refused), in the order of the events.
  void on_events(std::span<const events::Event> batch) override;
  /// The order of one FIRE event (a 64-byte record): what became of it is queued for take_fires().
  void fire(const events::FireEvent& f);
  /// Whether the session takes orders now (fired orders are not sent otherwise): the host keeps it current.
  void set_active(bool active) noexcept { active_ = active; }
  bool active() const noexcept { return active_; }
  /// The outcomes of the fires since the last call.
  std::vector<FireOutcome> take_fires() { return std::exchange(fires_, {}); }
  std::size_t fires_waiting() const noexcept { return fires_.size(); }
  /// Mid (Price(4), rounded down) of a locate; the one side if the other is empty; 0 if both are.
  std::int64_t mid(std::uint16_t locate) const noexcept;
  void set_symbol(std::uint16_t locate, std::string_view name);
  bool named(std::uint16_t locate) const noexcept { return !names_[locate].empty(); }
  std::string_view symbol(std::uint16_t locate) const noexcept { return names_[locate]; }

  std::int64_t enter(std::uint16_t locate, char side, std::int64_t shares, std::int64_t price, char tif,
                     bool active);
  /// The "unknown symbol" rejection of an order whose locate the caller cannot name (after kNeedSymbol).
  std::int64_t reject_unknown();
  /// Cancel down to `shares` (0: all): 1 if sent.
  std::int64_t cancel(std::uint32_t token, std::int64_t shares, bool active);
  std::int64_t replace(std::uint32_t token, std::int64_t shares, std::int64_t price, char tif, bool active);

  std::uint32_t next_token() const noexcept { return next_token_; }
  std::uint32_t last_token() const noexcept { return last_token_; }
  int last_reason() const noexcept { return last_reason_; }
  /// monotonic_ns() right after the last packet was written.
  std::int64_t last_send_ns() const noexcept { return last_send_ns_; }
  /// (locate, side) of a token this path decided on (sent or not), if any.
  std::optional<std::pair<std::uint16_t, char>> order(std::uint32_t token) const noexcept;

  std::uint64_t entered = 0, cancels_sent = 0, replaces_sent = 0, not_sent = 0;
  std::uint64_t fires_seen = 0, fires_sent = 0, fires_refused = 0;

 private:
  std::uint32_t take_token(std::uint16_t locate, char side);
  std::int64_t send(std::span<const std::byte> packet, bool active, std::uint64_t& counter);

  Risk risk_;
  OuchEncoder encoder_;
  SoupWriter writer_;
  bool manual_;
  std::int64_t manual_time_ = 0;
  std::vector<std::uint32_t> bid_, ask_;
  std::vector<std::string> names_;
  struct Decided {
    std::uint16_t locate;
    char side;
  };
  std::vector<Decided> decided_;  // by token - first_token_
  std::uint32_t first_token_, next_token_, last_token_ = 0;
  int last_reason_ = -1;
  std::int64_t last_send_ns_ = 0;
  std::uint16_t pending_locate_ = 0;  // of the order that got kNeedSymbol
  char pending_side_ = 0;
  bool active_ = false;
  std::vector<FireOutcome> fires_;
};

}  // namespace tickgate::driver::orders
