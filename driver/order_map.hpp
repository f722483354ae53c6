// The software card's orders: an open-addressing hash map from ITCH order reference to a live order, and
// the placement of the gateware's bounded order table (model/order_table.py, protocol/order_hash.py).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tickgate::driver {

/// A live order. `shares` is never 0 for a live order, so 0 marks an empty slot.
struct Order {
  std::uint64_t ref;
  std::uint32_t price;
  std::uint32_t shares;
  std::uint32_t book : 31;  // index of the order's book
  std::uint32_t is_bid : 1;
  std::uint32_t slot;  // where the order table placed it (OrderTable), OrderTable::kNone without one
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

  /// Starts loading the slot where `ref` would be looked up, for a find or insert a message later.
  void prefetch(std::uint64_t ref) const noexcept { __builtin_prefetch(slots_.data() + home(ref)); }

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

namespace detail {
constexpr std::array<std::uint32_t, 256> crc32c_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0u);
    t[n] = c;
  }
  return t;
}
inline constexpr std::array<std::uint32_t, 256> kCrc32cTable = crc32c_table();
}  // namespace detail

/// Where the gateware's 2-left hashed order table places references (protocol/order_hash.py): two banks
/// of 2**bucket_bits buckets of `ways` entries, indexed by the halves of the CRC-32C of the reference,
/// then a stash. Only free counts are kept: a reference takes the candidate with more free ways (the left
/// on a tie), else the stash, else it fails; which way it takes does not change what fails later.
class OrderTable {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;  // not placed (full, or no table)
  static constexpr std::uint32_t kStash = 0xFFFFFFFEu;
  static constexpr unsigned kMaxBucketBits = 16;  // protocol.order_hash.MAX_BUCKET_BITS

  OrderTable(unsigned bucket_bits, std::uint32_t ways, std::uint32_t stash)
      : mask_((1u << bucket_bits) - 1), free_(std::size_t{2} << bucket_bits, ways),
        stash_free_(stash) {}

  /// The slot a new reference is placed in: a bucket (right bank from buckets() up), kStash, or kNone.
  std::uint32_t insert(std::uint64_t ref) noexcept {
    const auto [b0, b1] = candidates(ref, mask_);
    const std::uint32_t left = b0, right = buckets() + b1;
    const std::uint32_t slot = free_[right] > free_[left] ? right : left;
    if (free_[slot]) {
      --free_[slot];
      return slot;
    }
    if (stash_free_) {
      --stash_free_;
      return kStash;
    }
    return kNone;
  }

  /// Frees the entry of a slot from insert (kNone: nothing to free).
  void remove(std::uint32_t slot) noexcept {
    if (slot == kStash) ++stash_free_;
    else if (slot != kNone) ++free_[slot];
  }

  /// Buckets in one bank; a slot at or above this is in the right bank.
  std::uint32_t buckets() const noexcept { return mask_ + 1; }

  /// The candidate buckets of a reference in the left and right banks of mask + 1 buckets each.
  static std::pair<std::uint32_t, std::uint32_t> candidates(std::uint64_t ref, std::uint32_t mask) noexcept {
    const std::uint32_t h = crc32c_u64(ref);
    return {h & mask, (h >> 16) & mask};
  }

  /// CRC-32C (Castagnoli, reflected 0x82F63B78, initial value and final XOR 0xFFFFFFFF) of a reference's
  /// 8 big-endian bytes, as protocol.order_hash.crc32c_u64.
  static std::uint32_t crc32c_u64(std::uint64_t ref) noexcept {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (int shift = 56; shift >= 0; shift -= 8) {
      crc = (crc >> 8) ^ detail::kCrc32cTable[(crc ^ static_cast<std::uint32_t>(ref >> shift)) & 0xFF];
    }
    return crc ^ 0xFFFFFFFFu;
  }

 private:
  std::uint32_t mask_;
  std::vector<std::uint32_t> free_;  // free ways of each bucket: the left bank, then the right
  std::uint32_t stash_free_;
};

}  // namespace tickgate::driver
