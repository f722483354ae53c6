// Pre-trade risk: host/risk.py's rules, in its order and with its arithmetic (see order_risk.hpp).
#include "order_risk.hpp"

#include <algorithm>
#include <cstdlib>

namespace tickgate::driver::orders {

Risk::Risk(const Limits& limits, std::int64_t now_ns)
    : limits_(limits), open_buy_(kLocates), open_sell_(kLocates), position_(kLocates), cash_(kLocates),
      has_position_(kLocates), tokens_(limits.max_orders_per_s), last_refill_(now_ns) {}

void Risk::set_limits(const Limits& limits) {
  limits_ = limits;
  tokens_ = std::min(tokens_, limits.max_orders_per_s);
}

bool Risk::kill(std::string_view reason, std::int64_t) {
  if (!killed_.empty()) return false;
  killed_ = reason.empty() ? std::string("kill") : std::string(reason);
  return true;
}

int Risk::reject(Reason reason, std::int64_t now_ns) {
  const auto i = static_cast<std::size_t>(reason);
  ++rejects_[i];
  const std::int64_t second = now_ns / 1'000'000'000;
  reject_count_ = reject_second_ == second ? reject_count_ + 1 : 1;
  reject_second_ = second;
  if (static_cast<double>(reject_count_) > limits_.max_rejects_per_s && reason != Reason::kKillSwitch) {
    kill("breach: more than " + limits_.max_rejects_per_s_text + " risk rejections in a second", now_ns);
  }
  return static_cast<int>(i);
}

int Risk::check_head(char side, std::int64_t shares, std::int64_t price, std::int64_t now_ns) {
  if (!killed_.empty()) return reject(Reason::kKillSwitch, now_ns);
  if (shares <= 0 || price <= 0 || (side != 'B' && side != 'S')) return reject(Reason::kInvalidOrder, now_ns);
  return -1;
}

int Risk::check_tail(bool known, std::uint16_t locate, char side, std::int64_t shares, std::int64_t price,
                     std::int64_t mid, std::int64_t now_ns, std::int64_t replacing) {
  const Limits& lim = limits_;
  if (!known) return reject(Reason::kUnknownSymbol, now_ns);
  if (static_cast<double>(shares) > lim.max_order_shares) return reject(Reason::kMaxOrderSize, now_ns);
  if (static_cast<double>(shares * price) > lim.max_notional * static_cast<double>(kPriceScale)) {
    return reject(Reason::kMaxNotional, now_ns);
  }
  if (mid == 0) return reject(Reason::kNoReferencePrice, now_ns);
  if (static_cast<double>(std::llabs(price - mid) * 10'000) > lim.price_band_bps * static_cast<double>(mid)) {
    return reject(Reason::kPriceBand, now_ns);
  }
  const std::int64_t pos = position_[locate];
  const std::int64_t worst = side == 'B' ? pos + open_buy_[locate] - replacing + shares
                                         : pos - open_sell_[locate] + replacing - shares;
  if (static_cast<double>(std::llabs(worst)) > lim.max_position) return reject(Reason::kSymbolPosition, now_ns);
  if (static_cast<double>(gross_position_ + open_shares_ - replacing + shares) > lim.max_total_position) {
    return reject(Reason::kTotalPosition, now_ns);
  }
  tokens_ = std::min(lim.max_orders_per_s,
                     tokens_ + static_cast<double>(now_ns - last_refill_) * 1e-9 * lim.max_orders_per_s);
  last_refill_ = now_ns;
  if (tokens_ < 1.0) return reject(Reason::kOrderRate, now_ns);
  tokens_ -= 1.0;
  return -1;
}

void Risk::opened(std::uint32_t token, std::uint16_t locate, char side, std::int64_t shares, std::int64_t price) {
  open_[token] = OpenOrder{locate, side, shares, price};
  (side == 'B' ? open_buy_ : open_sell_)[locate] += shares;
  open_shares_ += shares;
}

void Risk::close_shares(std::map<std::uint32_t, OpenOrder>::iterator it, std::int64_t shares) {
  OpenOrder& o = it->second;
  shares = std::min(shares, o.shares);
  o.shares -= shares;
  (o.side == 'B' ? open_buy_ : open_sell_)[o.locate] -= shares;
  open_shares_ -= shares;
  if (o.shares == 0) open_.erase(it);
}

void Risk::replaced(std::uint32_t token, std::uint32_t new_token, std::int64_t shares, std::int64_t price) {
  const auto it = open_.find(token);
  if (it == open_.end()) return;
  const OpenOrder o = it->second;
  close_shares(it, o.shares);
  opened(new_token, o.locate, o.side, shares, price);
}

std::string Risk::on_update(UpdateKind kind, std::uint32_t token, std::uint16_t locate, std::string_view symbol,
                            char side, std::int64_t shares, std::int64_t price, std::int64_t now_ns) {
  const auto it = open_.find(token);
  const bool is_open = it != open_.end();
  if (kind == UpdateKind::kExecuted) {
    ++fills_;
    filled_shares_ += shares;
    const std::int64_t signed_shares = side == 'B' ? shares : -shares;
    if (!has_position_[locate]) {
      has_position_[locate] = true;
      held_.push_back(locate);
    }
    const std::int64_t old = position_[locate];
    const std::int64_t now = old + signed_shares;
    position_[locate] = now;
    gross_position_ += std::llabs(now) - std::llabs(old);
    cash_[locate] -= signed_shares * price;
    if (is_open) close_shares(it, shares);
    const std::string name(symbol);
    if (static_cast<double>(std::llabs(now)) > limits_.max_position &&
        kill("breach: " + name + " position " + std::to_string(now) + " past " + limits_.max_position_text,
             now_ns)) {
      return killed_;
    }
    if (static_cast<double>(gross_position_) > limits_.max_total_position &&
        kill("breach: gross position " + std::to_string(gross_position_) + " past " +
                 limits_.max_total_position_text, now_ns)) {
      return killed_;
    }
  } else if (kind == UpdateKind::kCanceled && is_open) {
    close_shares(it, shares ? shares : it->second.shares);
  } else if (kind == UpdateKind::kRejected && is_open) {
    close_shares(it, it->second.shares);
  }
  return {};
}

}  // namespace tickgate::driver::orders
