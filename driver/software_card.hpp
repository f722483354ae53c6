// A C++ model of the card, byte-exact with the Python reference (model/card.py, session.py, book.py,
// decoder.py): MoldUDP64 packets in, 64-byte book events and the register map's counters out.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "order_map.hpp"
#include "software_book.hpp"
#include "software_rules.hpp"
#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// Geometry of the order table (model.order_table.OrderTableConfig).
struct OrderTableConfig {
  unsigned bucket_bits;
  std::uint32_t ways;
  std::uint32_t stash;
};

/// What the card is told (model.card.CardConfig): which symbols to track (none: all), the session to
/// expect, capacities (none: unbounded), whether to emit LEVEL events (needs max_levels, at most 255) and
/// whether it takes two lines, A and B (line_window: the arbiter's window in packets, 0 to 255; none: one line).
struct SoftwareCardConfig {
  std::optional<std::vector<std::string>> symbols;
  std::optional<std::array<char, 10>> session;
  std::optional<std::uint64_t> first_sequence;
  std::optional<OrderTableConfig> order_table;
  std::optional<std::size_t> max_levels;
  std::optional<std::size_t> max_symbols;
  bool level_events = false;
  std::optional<unsigned> line_window;
  std::size_t max_rules = 64;  // entries of the rule table (CardConfig.max_rules)
};

/// A sequence number of the session's 65-bit space (model/session.py): `seq + count` may pass 2^64 - 1.
struct Seq65 {
  bool carry = false;  // bit 64, compared first
  std::uint64_t low = 0;

  static constexpr Seq65 sum(std::uint64_t a, std::uint64_t b) noexcept { return {a + b < a, a + b}; }
  friend constexpr auto operator<=>(const Seq65&, const Seq65&) = default;
};

class SoftwareCard {
 public:
  using Counters = std::array<std::uint64_t, regs::kCounterCount>;

  /// Throws std::invalid_argument for a configuration CardConfig refuses.
  explicit SoftwareCard(SoftwareCardConfig config = {});

  /// Processes one MoldUDP64 packet received at `rx_ns` on `line` (0: A, 1: B): with two lines
  /// (config.line_window), through the arbiter of model/lines.py; with one, any line is the one.
  void feed(std::span<const std::byte> packet, std::uint64_t rx_ns, unsigned line = 0);

  /// The input has ended: with two lines, the arbiter releases every packet it holds (gaps declared).
  void end_of_input();

  /// Processes a DMA batch: records of [mold::DmaHeader][packet], each padded to mold::kDmaAlign bytes, on
  /// the line of the header's kDmaLineB flag; a record flagged kDmaEndOfInput ends the input (after its
  /// packet, if it has one). Returns the number of records; throws std::invalid_argument if a record runs
  /// past the end.
  std::size_t feed_dma(std::span<const std::byte> batch);

  /// Moves up to out.size() pending events into `out`; returns how many.
  std::size_t take_events(std::span<events::Event> out) noexcept;
  std::size_t pending_events() const noexcept { return events_.size() - head_; }
  const Counters& counters() const noexcept { return counters_; }

  /// A write to a rule register (protocol/rules.py): false if `offset` is not one. A refused rule_write is
  /// counted (rule_writes_refused).
  bool write_rule_register(std::uint32_t offset, std::uint32_t value);
  std::optional<std::uint32_t> read_rule_register(std::uint32_t offset) const noexcept { return rules_.read(offset); }
  std::size_t cap_rules() const noexcept { return rules_.capacity(); }

 private:
  // session (model/session.py)
  void packet(std::span<const std::byte> packet, std::uint64_t rx_ns);
  void check_gap(std::uint64_t seq, std::uint64_t rx_ns);
  void session_event(events::SessionCode code, std::uint64_t seq, std::uint64_t rx_ns, const std::byte* session);

  /// The message being applied: its type byte, sequence number, ITCH timestamp and receive time.
  struct Msg {
    std::uint8_t type;
    std::uint64_t seq;
    std::uint64_t ts;
    std::uint64_t rx;
  };

  // A/B lines (model/lines.py), in software_lines.cpp
  struct Held {
    std::vector<std::byte> bytes;
    std::uint64_t rx_ns;
  };
  /// The packet's sequence number if the session would declare a gap on it.
  std::optional<std::uint64_t> ahead(std::span<const std::byte> packet) const noexcept;
  /// Counts a packet of `line` by what the session will make of it, then gives it to the session.
  void release(std::span<const std::byte> packet, std::uint64_t rx_ns, unsigned line);
  void drain(bool force);

  // one message (model/decoder.py classify, model/card.py handlers)
  /// Starts loading the order-map slot of the message at `p` (`length` bytes) if it names an order, so that
  /// the miss overlaps the message before it (no effect on what is applied).
  void prefetch_order(const std::byte* p, std::size_t length) const noexcept;
  void message(const std::byte* p, std::size_t length, std::uint64_t seq, std::uint64_t rx_ns);
  template <class M>
  void apply(const std::byte* p, const Msg& m);
  std::uint32_t book_of(std::uint16_t locate, const Msg& m);
  bool tracked(std::uint16_t locate) const noexcept { return track_all_ || tracked_[locate]; }
  void count_missing(std::uint16_t locate);
  bool valid(std::uint32_t shares, std::uint32_t price);
  // Off the hot path of the default (unbounded) configuration: kept out of line.
  [[gnu::cold, gnu::noinline]] void degrade(std::uint32_t book, events::DegradedReason reason, const Msg& m);
  [[gnu::noinline]] void level_event(std::uint32_t book, bool is_bid, std::uint32_t price, const LevelUpdate& u,
                                     const Msg& m);
  [[gnu::cold, gnu::noinline]] std::uint32_t refuse(std::uint16_t locate, const Msg& m);
  void take(const Order& o, std::uint64_t shares, bool removes_order, const Msg& m);
  std::uint32_t insert(std::uint64_t ref, std::uint32_t book, bool is_bid, std::uint32_t price,
                       std::uint32_t shares, const Msg& m);
  void reduce(Order* o, std::uint64_t shares, const Msg& m);
  void remove(Order* o, const Msg& m);
  void bbo_if_changed(std::uint32_t book, const Msg& m);
  [[gnu::noinline]] void fire_rules(const events::BboEvent& bbo);
  /// Sets the fields every event kind has (kind, flags, locate, message type, seq and both times).
  template <class E>
  static void set_common(E& e, std::uint8_t kind, std::uint8_t flags, std::uint16_t locate, const Msg& m) noexcept;
  template <class E>
  E record(std::uint8_t flags, std::uint16_t locate, const Msg& m) const noexcept;
  template <class E>
  void push(const E& e);
  /// A BBO event zeroed in place at the end of the buffer with its common fields set, counted (events::Event
  /// is the BBO layout): the caller sets the prices and sizes; nothing is copied through the stack.
  events::Event& push_bbo(std::uint8_t flags, std::uint16_t locate, const Msg& m);

  template <class M>
  void add(const std::byte* p, const Msg& m);
  template <class M>
  void execute(const std::byte* p, const Msg& m);
  void cancel(const std::byte* p, const Msg& m);
  void erase(const std::byte* p, const Msg& m);
  void replace(const std::byte* p, const Msg& m);
  void trade(const std::byte* p, const Msg& m);
  void cross(const std::byte* p, const Msg& m);
  void trading_action(const std::byte* p, const Msg& m);
  void system_event(const std::byte* p, const Msg& m);
  void directory(const std::byte* p);

  static constexpr std::uint32_t kNoBook = 0xFFFFFFFFu;
  static constexpr std::size_t kMaxLevelEventsLevels = 255;  // model.config.MAX_LEVEL_EVENTS_LEVELS
  static constexpr unsigned kMaxLineWindow = 255;  // protocol.config.MAX_LINE_WINDOW

  Counters counters_{};
  std::array<std::uint8_t, 256> type_counter_{};  // counter index of each type byte's type_X; 0: unknown
  std::vector<events::Event> events_;
  std::size_t head_ = 0;  // first pending event

  std::array<char, 10> session_{};
  bool has_session_ = false;
  Seq65 expected_;
  bool has_expected_ = false;
  bool ended_ = false;

  std::optional<unsigned> window_;  // two lines: the arbiter's window in packets
  std::array<std::deque<Held>, 2> held_;  // per line: packets held, in the line's order
  std::array<std::size_t, 2> held_bytes_{};  // per line: mold::kLineBufferBytes' measure of held_ (whole beats)
  std::array<unsigned, 2> quiet_{};  // per line: packets the other line received since this one's last, capped
  Seq65 gap_first_, gap_end_;  // the last gap declared

  bool track_all_;
  std::vector<std::string> symbols_;  // tracked names when not track_all_
  std::vector<bool> tracked_;  // per locate: its directory name is tracked
  std::vector<std::uint32_t> book_index_;  // per locate: index into books_, or kNoBook
  std::vector<bool> refused_;  // per locate: found no book slot (max_symbols)
  std::vector<Book> books_;
  OrderMap orders_;
  std::optional<OrderTable> table_;
  std::size_t max_levels_;  // BookSide::kUnbounded if unbounded
  std::size_t max_symbols_;
  bool level_events_;
  RuleTable rules_;
  std::vector<std::uint32_t> armed_scratch_;
};

}  // namespace tickgate::driver
