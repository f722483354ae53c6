// The price-level book of one symbol for the software card: the semantics of model/book.py.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tickgate::driver {

/// One side: aggregate shares and order count per price, sorted so the best level is at the back.
/// Levels are keyed by price for bids and by ~price for asks, so both sides sort ascending.
class BookSide {
 public:
  explicit BookSide(bool bid) : bid_(bid) { levels_.reserve(64); }

  /// Adds an order's shares at `price`.
  void add(std::uint32_t price, std::uint64_t shares) {
    const std::uint32_t k = key(price);
    auto it = find(k);
    if (it != levels_.end() && it->key == k) {
      it->shares += shares;
      it->orders += 1;
    } else {
      levels_.insert(it, Level{k, 1, shares});
    }
  }

  /// Takes `shares` off the level at `price` (which exists), and one order if `removes_order`.
  void reduce(std::uint32_t price, std::uint64_t shares, bool removes_order) {
    auto it = find(key(price));
    it->shares -= shares;
    if (removes_order && --it->orders == 0) levels_.erase(it);
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
  std::vector<Level> levels_;
};

/// Both sides of one symbol's book and the top of book last emitted for it.
struct Book {
  explicit Book(std::uint16_t loc) : locate(loc) {}

  std::uint16_t locate;
  std::uint8_t flags = 0;  // EventFlag bits for this symbol's events
  BookSide bids{true};
  BookSide asks{false};
  std::uint64_t last_bbo[4] = {0, 0, 0, 0};  // bid_px, bid_sz, ask_px, ask_sz as last emitted

  BookSide& side(bool is_bid) noexcept { return is_bid ? bids : asks; }
};

}  // namespace tickgate::driver
