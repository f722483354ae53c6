// The price-level book of one symbol for the software card: the semantics of model/book.py, unbounded or
// holding the best `cap` levels of each side.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// One level operation, as a LEVEL event reports it; action 0: no level is held at the price.
struct LevelUpdate {
  std::uint8_t action = 0;  // events::LevelAction
  std::uint32_t index = 0;  // from the best level, before the change
  std::uint64_t shares = 0;
  std::uint32_t orders = 0;
};

/// One side: aggregate shares and order count per held price, sorted so the best level is at the back.
/// Levels are keyed by price for bids and by ~price for asks, so both sides sort ascending.
class BookSide {
 public:
  static constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
  /// The most shares a level holds: the events' size field.
  static constexpr std::uint64_t kMaxShares = std::numeric_limits<decltype(events::Event::bid_sz)>::max();

  BookSide(bool bid, std::size_t cap) : bid_(bid), cap_(cap) { levels_.reserve(std::min<std::size_t>(cap, 64) + 1); }

  /// An order of `shares` joins the level at `price`. `full` is set if the side overflowed: the new level
  /// was worse than `cap` held ones (not held: action 0), the worst held level was dropped for it, or the
  /// level's shares would pass kMaxShares (held there).
  LevelUpdate add(std::uint32_t price, std::uint64_t shares, bool& full) {
    using events::LevelAction;
    const std::uint32_t k = key(price);
    auto it = find(k);
    if (it != levels_.end() && it->key == k) {
      it->shares += shares;  // both at most 2^32 - 1: no wrap
      if (it->shares > kMaxShares) {  // saturates; the side overflowed (model/book.py MAX_LEVEL_SHARES)
        it->shares = kMaxShares;
        full = true;
      }
      it->orders += 1;
      return {static_cast<std::uint8_t>(LevelAction::kChange), index_of(it), it->shares, it->orders};
    }
    const auto index = static_cast<std::uint32_t>(levels_.end() - it);  // held levels better than price
    if (index >= cap_) {
      full = true;
      return {};
    }
    levels_.insert(it, Level{k, 1, shares});
    if (levels_.size() > cap_) {  // the worst level goes, silently (a receiver keeping cap levels drops it)
      levels_.erase(levels_.begin());
      full = true;
    }
    return {static_cast<std::uint8_t>(LevelAction::kNew), index, shares, 1};
  }

  /// Takes `shares` off the level at `price` (clamped at 0), and one order if `removes_order`; the level
  /// goes when its shares or orders reach 0. Action 0 if no level is held at `price`.
  LevelUpdate reduce(std::uint32_t price, std::uint64_t shares, bool removes_order) {
    using events::LevelAction;
    const std::uint32_t k = key(price);
    auto it = find(k);
    if (it == levels_.end() || it->key != k) return {};
    const std::uint32_t index = index_of(it);
    const std::uint64_t left = it->shares > shares ? it->shares - shares : 0;
    const std::uint32_t orders = removes_order ? (it->orders ? it->orders - 1 : 0) : it->orders;
    if (left == 0 || orders == 0) {
      levels_.erase(it);
      return {static_cast<std::uint8_t>(LevelAction::kDelete), index, 0, 0};
    }
    it->shares = left;
    it->orders = orders;
    return {static_cast<std::uint8_t>(LevelAction::kChange), index, left, orders};
  }

  /// Price of the best level, 0 if empty.
  std::uint32_t best_price() const noexcept { return levels_.empty() ? 0 : key(levels_.back().key); }
  /// Shares at the best level, 0 if empty.
  std::uint64_t best_shares() const noexcept { return levels_.empty() ? 0 : levels_.back().shares; }
  std::size_t size() const noexcept { return levels_.size(); }

 private:
  struct Level {
    std::uint32_t key;
    std::uint32_t orders;
    std::uint64_t shares;
  };

  std::uint32_t key(std::uint32_t price) const noexcept { return bid_ ? price : ~price; }
  std::uint32_t index_of(std::vector<Level>::const_iterator it) const noexcept {
    return static_cast<std::uint32_t>(levels_.end() - it - 1);
  }

  /// The first level with key >= k; most activity is near the best (the back), so look there first.
  std::vector<Level>::iterator find(std::uint32_t k) noexcept {
    auto end = levels_.end();
    auto it = end;
    for (int i = 0; i < 8 && it != levels_.begin(); ++i) {
      if ((it - 1)->key < k) return it;
      --it;
    }
    return std::lower_bound(levels_.begin(), it, k, [](const Level& l, std::uint32_t v) { return l.key < v; });
  }

  bool bid_;
  std::size_t cap_;
  std::vector<Level> levels_;
};

/// Both sides of one symbol's book and the top of book last emitted for it.
struct Book {
  Book(std::uint16_t loc, std::size_t max_levels) : locate(loc), bids(true, max_levels), asks(false, max_levels) {}

  std::uint16_t locate;
  std::uint8_t flags = 0;  // EventFlag bits for this symbol's events; DEGRADED once degraded
  BookSide bids;
  BookSide asks;
  std::uint64_t last_bbo[4] = {0, 0, 0, 0};  // bid_px, bid_sz, ask_px, ask_sz as last emitted

  BookSide& side(bool is_bid) noexcept { return is_bid ? bids : asks; }
};

}  // namespace tickgate::driver
