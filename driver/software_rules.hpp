// The rule table of the software card (model/rules.py, contract protocol/rules.py): rules written through the
// rule registers, evaluated on each BBO event of their locate; a FIRE event per rule that holds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// One armed rule, as the registers stage it (model's protocol.rules.Rule).
struct ArmedRule {
  std::uint16_t locate = 0;
  rules::RuleCondition condition{};
  rules::PriceMode price_mode{};
  std::uint8_t side = 0;  // 'B' or 'S'
  std::uint8_t tif = 0;  // OUCH time in force byte
  std::uint32_t threshold = 0;
  std::uint32_t shares = 0;
  std::uint32_t price = 0;  // FIXED: the price; BID/ASK: a signed offset (two's complement)
  std::uint32_t tag = 0;
  std::uint32_t fires = 0;

  /// The rule staged in the registers, or nullopt if a field is out of range (Rule.__post_init__).
  static std::optional<ArmedRule> from_registers(std::uint32_t locate, std::uint32_t kind, std::uint32_t threshold,
                                                 std::uint32_t shares, std::uint32_t price, std::uint32_t tag,
                                                 std::uint32_t fires) noexcept {
    ArmedRule r;
    namespace f = regs::field;
    const std::uint32_t cond = f::rule_kind_condition.get(kind), mode = f::rule_kind_price_mode.get(kind);
    const std::uint32_t side = f::rule_kind_side.get(kind), tif = f::rule_kind_tif.get(kind);
    if (cond < 1 || cond > 5 || mode > 2 || (side != 'B' && side != 'S')) return std::nullopt;
    if (tif != '0' && tif != '3' && tif != '5' && tif != '6' && tif != 'E') return std::nullopt;
    locate &= 0xFFFF;
    if (locate == 0 || shares == 0 || fires == 0) return std::nullopt;
    if (mode == 0 && price == 0) return std::nullopt;
    r.locate = static_cast<std::uint16_t>(locate);
    r.condition = static_cast<rules::RuleCondition>(cond);
    r.price_mode = static_cast<rules::PriceMode>(mode);
    r.side = static_cast<std::uint8_t>(side);
    r.tif = static_cast<std::uint8_t>(tif);
    r.threshold = threshold;
    r.shares = shares;
    r.price = price;
    r.tag = tag;
    r.fires = fires;
    return r;
  }

  /// Whether the condition holds on this top of book (an empty side has price 0).
  bool holds(std::uint64_t bid_px, std::uint64_t bid_sz, std::uint64_t ask_px, std::uint64_t ask_sz) const noexcept {
    using C = rules::RuleCondition;
    const std::uint64_t t = threshold;
    switch (condition) {
      case C::kAskAtOrBelow: return ask_px != 0 && ask_px <= t;
      case C::kBidAtOrAbove: return bid_px != 0 && bid_px >= t;
      default: break;
    }
    if (bid_px == 0 || ask_px == 0) return false;
    switch (condition) {
      case C::kSpreadAtOrBelow: return ask_px <= bid_px + t;
      case C::kBidImbalance: return bid_sz * rules::kImbalanceOne >= t * ask_sz;
      default: return ask_sz * rules::kImbalanceOne >= t * bid_sz;  // kAskImbalance
    }
  }

  /// The order's limit price, or nullopt (empty touch, or outside 1 to 2^32 - 1).
  std::optional<std::uint32_t> order_price(std::uint64_t bid_px, std::uint64_t ask_px) const noexcept {
    if (price_mode == rules::PriceMode::kFixed) return price;
    const std::int64_t touch = static_cast<std::int64_t>(price_mode == rules::PriceMode::kBid ? bid_px : ask_px);
    if (touch == 0) return std::nullopt;
    const std::int64_t p = touch + static_cast<std::int32_t>(price);
    if (p < 1 || p > 0xFFFFFFFFll) return std::nullopt;
    return static_cast<std::uint32_t>(p);
  }
};

/// `capacity` entries and the staged registers; the card asks `armed(locate)` on each BBO event.
class RuleTable {
 public:
  explicit RuleTable(std::size_t capacity) : rules_(capacity), left_(capacity, 0), per_locate_(1 << 16, 0) {}

  std::size_t capacity() const noexcept { return rules_.size(); }
  bool armed(std::uint16_t locate) const noexcept { return per_locate_[locate] != 0; }
  const ArmedRule& rule(std::size_t i) const noexcept { return rules_[i]; }
  std::uint32_t left(std::size_t i) const noexcept { return left_[i]; }

  /// A register write: true if `offset` is one of the rule registers. `refused` is counted by the caller.
  bool write(std::uint32_t offset, std::uint32_t value, bool& refused) {
    namespace o = regs::offset;
    refused = false;
    switch (offset) {
      case o::rule_index: index_ = value; return true;
      case o::rule_locate: locate_ = value; return true;
      case o::rule_kind: kind_ = value; return true;
      case o::rule_threshold: threshold_ = value; return true;
      case o::rule_shares: shares_ = value; return true;
      case o::rule_price: price_ = value; return true;
      case o::rule_tag: tag_ = value; return true;
      case o::rule_fires: fires_ = value; return true;
      case o::rule_write: refused = !command(regs::field::rule_write_arm.get(value)); return true;
      default: return false;
    }
  }

  /// A rule register's value, or nullopt if `offset` is not one.
  std::optional<std::uint32_t> read(std::uint32_t offset) const noexcept {
    namespace o = regs::offset;
    switch (offset) {
      case o::rule_index: return index_;
      case o::rule_locate: return locate_;
      case o::rule_kind: return kind_;
      case o::rule_threshold: return threshold_;
      case o::rule_shares: return shares_;
      case o::rule_price: return price_;
      case o::rule_tag: return tag_;
      case o::rule_fires: return fires_;
      case o::rule_write: return 0u;
      case o::rule_left: return index_ < capacity() ? left_[index_] : 0u;
      default: return std::nullopt;
    }
  }

  /// One fire of rule i: its fires left after it (0: it disarmed itself).
  std::uint32_t fire(std::size_t i) noexcept {
    const std::uint32_t left = --left_[i];
    if (left == 0) --per_locate_[rules_[i].locate];
    return left;
  }

  /// Indices of the armed rules of `locate`, ascending, into `out` (cleared first).
  void armed_of(std::uint16_t locate, std::vector<std::uint32_t>& out) const {
    out.clear();
    for (std::size_t i = 0; i < rules_.size() && out.size() < per_locate_[locate]; ++i) {
      if (left_[i] && rules_[i].locate == locate) out.push_back(static_cast<std::uint32_t>(i));
    }
  }

  /// Arm (or with nullopt disarm) entry i directly, as rule_write does.
  void set(std::size_t i, const std::optional<ArmedRule>& r) {
    if (left_[i]) --per_locate_[rules_[i].locate];
    rules_[i] = r.value_or(ArmedRule{});
    left_[i] = r ? r->fires : 0;
    if (r) ++per_locate_[r->locate];
  }

 private:
  bool command(bool arm) {
    if (index_ >= capacity()) return false;
    if (!arm) {
      set(index_, std::nullopt);
      return true;
    }
    const auto r = ArmedRule::from_registers(locate_, kind_, threshold_, shares_, price_, tag_, fires_);
    if (!r) return false;
    set(index_, r);
    return true;
  }

  std::vector<ArmedRule> rules_;
  std::vector<std::uint32_t> left_;
  std::vector<std::uint32_t> per_locate_;  // armed rules per locate
  std::uint32_t index_ = 0, locate_ = 0, kind_ = 0, threshold_ = 0, shares_ = 0, price_ = 0, tag_ = 0, fires_ = 0;
};

}  // namespace tickgate::driver
