// An open-addressing hash map from ITCH order reference to a live order, for the software card.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tickgate::driver {

/// A live order. `shares` is never 0 for a live order, so 0 marks an empty slot.
struct Order {
  std::uint64_t ref;
  std::uint32_t price;
  std::uint32_t shares;
  std::uint32_t book;  // index of the order's book
  bool is_bid;
};

/// Linear probing, backward-shift deletion, grown to keep the load at most one half.
class OrderMap {
 public:
  explicit OrderMap(std::size_t expected = 1 << 20) { rehash(capacity_for(expected)); }

  /// The live order `ref`, or nullptr. Valid until the next insert or erase.
  Order* find(std::uint64_t ref) noexcept {
    for (std::size_t i = home(ref);; i = (i + 1) & mask_) {
      Order& s = slots_[i];
      if (s.shares == 0) return nullptr;
      if (s.ref == ref) return &s;
    }
  }

  /// Inserts an order whose reference is not live (call find/erase first).
  void insert(const Order& o) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    place(o);
    ++size_;
  }

  /// Removes the order at `slot` (a pointer from find).
  void erase(Order* slot) noexcept {
    std::size_t i = static_cast<std::size_t>(slot - slots_.data());
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      Order& s = slots_[j];
      if (s.shares == 0) break;
      const std::size_t h = home(s.ref);
      // s may move into the hole at i if its home is not cyclically within (i, j].
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = s;
        i = j;
      }
    }
    slots_[i].shares = 0;
    --size_;
  }

  std::size_t size() const noexcept { return size_; }

 private:
  static std::size_t capacity_for(std::size_t n) {
    std::size_t c = 16;
    while (c < n * 2) c *= 2;
    return c;
  }
  /// ITCH references mostly rise through the day, so their low bits keep the live ones close together
  /// (as in a Python dict); the high bits are folded in so no bit of the reference is ignored.
  std::size_t home(std::uint64_t ref) const noexcept {
    return static_cast<std::size_t>(ref ^ (ref >> 32)) & mask_;
  }
  void place(const Order& o) noexcept {
    std::size_t i = home(o.ref);
    while (slots_[i].shares != 0) i = (i + 1) & mask_;
    slots_[i] = o;
  }
  void rehash(std::size_t capacity) {
    std::vector<Order> old(capacity, Order{});
    old.swap(slots_);
    mask_ = capacity - 1;
    for (const Order& o : old) {
      if (o.shares != 0) place(o);
    }
  }

  std::vector<Order> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tickgate::driver
