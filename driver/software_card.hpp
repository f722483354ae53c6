// A C++ model of the card, byte-exact with the Python reference (model/card.py, session.py, book.py,
// decoder.py): MoldUDP64 packets in, 64-byte book events and the register map's counters out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "order_map.hpp"
#include "software_book.hpp"
#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// What the card is told: which symbols to track (none: all), and optionally the session to expect.
struct SoftwareCardConfig {
  std::optional<std::vector<std::string>> symbols;
  std::optional<std::array<char, 10>> session;
  std::optional<std::uint64_t> first_sequence;
};

class SoftwareCard {
 public:
  using Counters = std::array<std::uint64_t, regs::kCounterCount>;

  explicit SoftwareCard(SoftwareCardConfig config = {});

  /// Processes one MoldUDP64 packet received at `rx_ns`.
  void feed(std::span<const std::byte> packet, std::uint64_t rx_ns);

  /// Processes a DMA batch: records of [mold::DmaHeader][packet], each padded to mold::kDmaAlign bytes.
  /// Returns the number of packets; throws std::invalid_argument if a record runs past the end.
  std::size_t feed_dma(std::span<const std::byte> batch);

  /// Moves up to out.size() pending events into `out`; returns how many.
  std::size_t take_events(std::span<events::Event> out) noexcept;
  std::size_t pending_events() const noexcept { return events_.size() - head_; }
  const Counters& counters() const noexcept { return counters_; }

 private:
  // session (model/session.py)
  void check_gap(std::uint64_t seq, std::uint64_t rx_ns);
  void session_event(events::SessionCode code, std::uint64_t seq, std::uint64_t rx_ns, const std::byte* session);

  /// The message being applied: its type byte, sequence number, ITCH timestamp and receive time.
  struct Msg {
    std::uint8_t type;
    std::uint64_t seq;
    std::uint64_t ts;
    std::uint64_t rx;
  };

  // one message (model/decoder.py classify, model/card.py handlers)
  void message(const std::byte* p, std::size_t length, std::uint64_t seq, std::uint64_t rx_ns);
  template <class M>
  void apply(const std::byte* p, const Msg& m);
  std::uint32_t book_of(std::uint16_t locate);
  bool tracked(std::uint16_t locate) const noexcept { return track_all_ || tracked_[locate]; }
  void count_missing(std::uint16_t locate);
  bool valid(std::uint32_t shares, std::uint32_t price);
  std::uint32_t insert(std::uint64_t ref, std::uint32_t book, bool is_bid, std::uint32_t price,
                       std::uint32_t shares);
  std::uint64_t reduce(Order* o, std::uint64_t shares);
  void remove(Order* o);
  void bbo_if_changed(std::uint32_t book, const Msg& m);
  template <class E>
  E record(std::uint8_t flags, std::uint16_t locate, const Msg& m) const noexcept;
  template <class E>
  void push(const E& e);

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

  Counters counters_{};
  std::array<std::uint8_t, 256> type_counter_{};  // counter index of each type byte's type_X; 0: unknown
  std::vector<events::Event> events_;
  std::size_t head_ = 0;  // first pending event

  std::array<char, 10> session_{};
  bool has_session_ = false;
  std::uint64_t expected_ = 0;
  bool has_expected_ = false;
  bool ended_ = false;

  bool track_all_;
  std::vector<std::string> symbols_;  // tracked names when not track_all_
  std::vector<bool> tracked_;  // per locate: its directory name is tracked
  std::vector<std::uint32_t> book_index_;  // per locate: index into books_, or kNoBook
  std::vector<Book> books_;
  OrderMap orders_;
};

}  // namespace tickgate::driver
