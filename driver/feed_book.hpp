// FeedBook: the feed's own order-by-order book for the backtest's fill simulator (host/backtest/fills.py).
// Every live order (reference -> locate, side, price, shares, priority), each side's orders in time priority
// (a level's queue is its orders in that list; a query walks the side), from the Add, Execute, Cancel, Delete
// and Replace messages of MoldUDP64 packets. The simulator says where its own orders rest (`watch`: the span
// of their prices on a side); the changes that can reach them are reported as `Touch` records (joined,
// executed, canceled), which it plays against them. Malformed messages are skipped (the card counts them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "order_map.hpp"

namespace tickgate::driver {

/// One change to an order that can reach ours: kind 'A' (joined its level, `shares` added; reported when it
/// crosses a price of ours on the other side), 'E' (executed, `shares` removed; when at or worse than our best
/// price on its side) or 'X' (canceled, deleted or replaced away, `shares` removed; when within our prices on
/// its side).
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

  /// Our orders on one side of a locate rest at prices from `lo` to `hi` (lo > hi: none rest there).
  void watch(std::uint16_t locate, bool buy, std::uint32_t lo, std::uint32_t hi) {
    ours_[key(locate, buy)] = Span{lo, hi};
  }
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
  static constexpr std::uint32_t kNil = 0xFFFFFFFFu;
  /// A live order, linked into its side's list in time priority (nodes_ is a pool; free_ its free list).
  struct Node {
    std::uint64_t ref;
    std::uint64_t prio;
    std::uint32_t price;
    std::uint32_t shares;
    std::uint32_t prev;
    std::uint32_t next;
  };
  struct Span {
    std::uint32_t lo = 0xFFFFFFFFu;  // none: lo > hi
    std::uint32_t hi = 0;
  };
  struct Ends {
    std::uint32_t head = kNil;  // the oldest order of the side
    std::uint32_t tail = kNil;
  };

  static std::uint32_t key(std::uint16_t locate, bool buy) { return std::uint32_t{locate} << 1 | buy; }
  void add(std::uint64_t ref, std::uint16_t locate, bool buy, std::uint32_t shares, std::uint32_t price,
           std::uint64_t ts);
  void reduce(std::uint64_t ref, std::uint32_t shares, bool all, char kind, std::uint64_t ts);
  /// Whether a change of `kind` to an order on (locate, buy) at `price` can reach an order of ours.
  bool reaches(char kind, std::uint16_t locate, bool buy, std::uint32_t price) const {
    if (kind == 'A') {  // an incoming order: against ours on the other side, if it crosses them
      const Span& o = ours_[key(locate, !buy)];
      return o.lo <= o.hi && (buy ? price >= o.lo : price <= o.hi);
    }
    const Span& o = ours_[key(locate, buy)];
    if (o.lo > o.hi) return false;
    if (kind == 'X') return price >= o.lo && price <= o.hi;  // shortens the queue at a price of ours
    return buy ? price <= o.hi : price >= o.lo;  // an execution at or behind our best price
  }

  // Reference -> node (Order::slot; Order::book the locate, is_bid the side; Order::shares is 1, the map's
  // mark of a live entry: the shares are the node's, which may be 0 for an Add of none).
  OrderMap orders_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> free_;
  std::vector<Ends> sides_;  // by key(locate, buy)
  std::vector<Span> ours_;  // by key(locate, buy)
  std::vector<Touch> touches_;
  std::uint64_t prio_ = 0;
  std::uint64_t last_ts_ = 0;
};

}  // namespace tickgate::driver
