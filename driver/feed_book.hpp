// FeedBook: the feed's own order-by-order book for the backtest's fill simulator (host/backtest/fills.py).
// Every live order (reference -> locate, side, price, shares, priority) and every price level's queue in
// time priority, from the Add, Execute, Cancel, Delete and Replace messages of MoldUDP64 packets. Orders
// of a watched locate are reported as `Touch` records (joined, executed, canceled), which the simulator
// plays against its own resting orders. Malformed messages are skipped (the card counts them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tickgate::driver {

/// One change to an order of a watched locate: kind 'A' (joined its level, `shares` added), 'E' (executed,
/// `shares` removed) or 'X' (canceled, deleted or replaced away, `shares` removed).
struct Touch {
  std::uint64_t ref;
  std::uint64_t prio;
  std::uint64_t ts;
  std::uint32_t price;
  std::uint32_t shares;
  std::uint16_t locate;
  char kind;
  bool buy;
};

class FeedBook {
 public:
  FeedBook();

  /// Applies the messages of `packet` from message index `start` on, stopping before the first one whose
  /// timestamp is at least `until_ts`: (index to resume at, that message's timestamp), or (-1, 0) at the end.
  std::pair<long, std::uint64_t> feed(std::span<const std::byte> packet, std::size_t start, std::uint64_t until_ts);

  void watch(std::uint16_t locate, bool on) { watched_[locate] = on; }
  std::vector<Touch> take_touches() { return std::exchange(touches_, {}); }

  /// The queue at a level, in time priority: (ref, shares, priority).
  std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> level(std::uint16_t locate, bool buy,
                                                                             std::uint32_t price) const;
  /// The prices of one side with orders, best first.
  std::vector<std::uint32_t> prices(std::uint16_t locate, bool buy) const;

  std::uint64_t next_prio() { return ++prio_; }
  std::uint64_t last_ts() const { return last_ts_; }
  std::size_t size() const { return orders_.size(); }

 private:
  struct Live {
    std::uint32_t price;
    std::uint32_t shares;
    std::uint64_t prio;
    std::uint16_t locate;
    bool buy;
  };
  using Queue = std::map<std::uint64_t, std::uint64_t>;  // priority -> reference
  using Side = std::map<std::uint32_t, Queue>;           // price -> queue

  static std::uint32_t key(std::uint16_t locate, bool buy) { return std::uint32_t{locate} << 1 | buy; }
  void add(std::uint64_t ref, std::uint16_t locate, bool buy, std::uint32_t shares, std::uint32_t price,
           std::uint64_t ts);
  void reduce(std::uint64_t ref, std::uint32_t shares, bool all, char kind, std::uint64_t ts);

  std::unordered_map<std::uint64_t, Live> orders_;
  std::vector<Side> sides_;  // by key(locate, buy)
  std::vector<bool> watched_;
  std::vector<Touch> touches_;
  std::uint64_t prio_ = 0;
  std::uint64_t last_ts_ = 0;
};

}  // namespace tickgate::driver
