// Pre-trade risk of the native order path: every limit, position, open order, the rate bucket and the kill
// switch of host/risk.py (the reference), rule for rule and reason for reason. Symbols are locates here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::driver::orders {

/// Why an order may not go: REASONS of host/risk.py, in its order (the part after "risk: ").
enum class Reason : std::uint8_t {
  kKillSwitch, kInvalidOrder, kUnknownSymbol, kMaxOrderSize, kMaxNotional, kNoReferencePrice, kPriceBand,
  kSymbolPosition, kTotalPosition, kOrderRate, kCount
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(Reason::kCount)> kReasonText{
    "kill switch", "invalid order", "unknown symbol", "max order size", "max notional", "no reference price",
    "price band", "symbol position limit", "total position limit", "order rate"};

inline constexpr std::size_t kLocates = 1 << 16;
inline constexpr std::int64_t kPriceScale = 10'000;  // Price(4)

/// RiskLimits of host/risk.py. Each limit is the double Python compares with (an int limit converts exactly);
/// `*_text` is Python's str() of a limit, for the kill reasons that quote it.
struct Limits {
  double max_order_shares = 1'000;
  double max_notional = 100'000;
  double max_position = 2'000;
  double max_total_position = 20'000;
  double price_band_bps = 500;
  double max_orders_per_s = 1'000;
  double max_rejects_per_s = 1'000'000;
  std::string max_position_text = "2000";
  std::string max_total_position_text = "20000";
  std::string max_rejects_per_s_text = "1000000";
};

struct OpenOrder {
  std::uint16_t locate;
  char side;  // 'B' or 'S'
  std::int64_t shares;  // still open
  std::int64_t price;
};

enum class UpdateKind : std::uint8_t { kAccepted, kRejected, kExecuted, kCanceled };

/// Limits, positions, open orders (by token, in token order), the order-rate bucket and the kill switch.
class Risk {
 public:
  Risk(const Limits& limits, std::int64_t now_ns);

  const Limits& limits() const noexcept { return limits_; }
  void set_limits(const Limits& limits);
  /// The order-rate bucket full, as a new host.risk.Risk starts it.
  void fill_bucket(std::int64_t now_ns) noexcept {
    tokens_ = limits_.max_orders_per_s;
    last_refill_ = now_ns;
  }
  /// Throw the kill switch (idempotent); whether it was newly thrown. An empty reason reads "kill".
  bool kill(std::string_view reason, std::int64_t now_ns);
  void reset_kill() { killed_.clear(); }
  const std::string& killed() const noexcept { return killed_; }

  /// The check of host/risk.py, up to "unknown symbol" (kill switch, invalid order): -1 if they pass.
  int check_head(char side, std::int64_t shares, std::int64_t price, std::int64_t now_ns);
  /// The rest, from "unknown symbol" on (`known`: the symbol is named; `mid`: its mid). `replacing`: open
  /// shares of the order a replace takes the place of. -1 if the order may go, else the Reason counted.
  int check_tail(bool known, std::uint16_t locate, char side, std::int64_t shares, std::int64_t price,
                 std::int64_t mid, std::int64_t now_ns, std::int64_t replacing = 0);
  /// Count a rejection (and throw the kill switch past max_rejects_per_s in a second); its index.
  int reject(Reason reason, std::int64_t now_ns);

  void opened(std::uint32_t token, std::uint16_t locate, char side, std::int64_t shares, std::int64_t price);
  /// `token` becomes `new_token` with `shares` at `price` (the replace was sent).
  void replaced(std::uint32_t token, std::uint32_t new_token, std::int64_t shares, std::int64_t price);
  /// Apply a gateway update; the kill reason if it threw the switch, else empty. `symbol` names the locate.
  std::string on_update(UpdateKind kind, std::uint32_t token, std::uint16_t locate, std::string_view symbol,
                        char side, std::int64_t shares, std::int64_t price, std::int64_t now_ns);

  const std::map<std::uint32_t, OpenOrder>& open() const noexcept { return open_; }
  std::int64_t position(std::uint16_t locate) const noexcept { return position_[locate]; }
  std::int64_t cash(std::uint16_t locate) const noexcept { return cash_[locate]; }
  /// Locates with a position entry (a fill ever), in the order of their first fill.
  const std::vector<std::uint16_t>& held() const noexcept { return held_; }
  std::int64_t gross_position() const noexcept { return gross_position_; }
  std::int64_t open_shares() const noexcept { return open_shares_; }
  std::int64_t fills() const noexcept { return fills_; }
  std::int64_t filled_shares() const noexcept { return filled_shares_; }
  const std::array<std::int64_t, static_cast<std::size_t>(Reason::kCount)>& rejects() const noexcept {
    return rejects_;
  }

 private:
  void close_shares(std::map<std::uint32_t, OpenOrder>::iterator it, std::int64_t shares);

  Limits limits_;
  std::map<std::uint32_t, OpenOrder> open_;
  std::vector<std::int64_t> open_buy_, open_sell_, position_, cash_;
  std::vector<bool> has_position_;
  std::vector<std::uint16_t> held_;
  std::int64_t open_shares_ = 0, gross_position_ = 0, fills_ = 0, filled_shares_ = 0;
  std::string killed_;
  std::array<std::int64_t, static_cast<std::size_t>(Reason::kCount)> rejects_{};
  double tokens_;
  std::int64_t last_refill_;
  std::int64_t reject_second_ = 0, reject_count_ = 0;
};

}  // namespace tickgate::driver::orders
