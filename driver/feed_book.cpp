// FeedBook (feed_book.hpp): the feed's order-by-order book, field offsets from the generated protocol.hpp.
#include "feed_book.hpp"

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

namespace {
using itch::AddOrder;
using itch::AddOrderMpid;
using itch::OrderCancel;
using itch::OrderDelete;
using itch::OrderExecuted;
using itch::OrderExecutedWithPrice;
using itch::OrderReplace;
}  // namespace

FeedBook::FeedBook() : sides_(1 << 17), watched_(1 << 16, false) { orders_.reserve(1 << 20); }

std::pair<long, std::uint64_t> FeedBook::feed(std::span<const std::byte> packet, std::size_t start,
                                              std::uint64_t until_ts) {
  if (packet.size() < mold::kHeaderLength) return {-1, 0};
  const std::size_t count = wire::read_u16(packet.data() + mold::Header::Offset::message_count);
  if (count == mold::kEndOfSession) return {-1, 0};
  std::size_t pos = mold::kHeaderLength;
  for (std::size_t i = 0; i < count; ++i) {
    if (pos + mold::kBlockLength > packet.size()) return {-1, 0};
    const std::size_t n = wire::read_u16(packet.data() + pos);
    pos += mold::kBlockLength;
    if (pos + n > packet.size()) return {-1, 0};
    const std::byte* p = packet.data() + pos;
    pos += n;
    if (i < start || n < 11) continue;
    const auto type = static_cast<unsigned char>(wire::read_u8(p));
    if (itch::kLengthByType[type] != n) continue;  // unknown or malformed: the card counts it
    static_assert(AddOrder::Offset::timestamp == itch::SystemEvent::Offset::timestamp);
    const std::uint64_t ts = AddOrder::timestamp(p);  // at the same offset in every type
    if (ts >= until_ts) return {static_cast<long>(i), ts};
    last_ts_ = ts;
    switch (type) {
      case 'A':
        add(AddOrder::order_reference_number(p), AddOrder::stock_locate(p), AddOrder::buy_sell_indicator(p) == 'B',
            AddOrder::shares(p), AddOrder::price(p), ts);
        break;
      case 'F':
        add(AddOrderMpid::order_reference_number(p), AddOrderMpid::stock_locate(p),
            AddOrderMpid::buy_sell_indicator(p) == 'B', AddOrderMpid::shares(p), AddOrderMpid::price(p), ts);
        break;
      case 'E':
        reduce(OrderExecuted::order_reference_number(p), OrderExecuted::executed_shares(p), false, 'E', ts);
        break;
      case 'C':
        reduce(OrderExecutedWithPrice::order_reference_number(p), OrderExecutedWithPrice::executed_shares(p), false,
               'E', ts);
        break;
      case 'X':
        reduce(OrderCancel::order_reference_number(p), OrderCancel::cancelled_shares(p), false, 'X', ts);
        break;
      case 'D':
        reduce(OrderDelete::order_reference_number(p), 0, true, 'X', ts);
        break;
      case 'U': {
        const auto it = orders_.find(OrderReplace::original_order_reference_number(p));
        if (it == orders_.end()) break;
        const std::uint16_t locate = it->second.locate;
        const bool buy = it->second.buy;
        reduce(it->first, 0, true, 'X', ts);
        add(OrderReplace::new_order_reference_number(p), locate, buy, OrderReplace::shares(p),
            OrderReplace::price(p), ts);
        break;
      }
      default:
        break;
    }
  }
  return {-1, 0};
}

void FeedBook::add(std::uint64_t ref, std::uint16_t locate, bool buy, std::uint32_t shares, std::uint32_t price,
                   std::uint64_t ts) {
  const std::uint64_t prio = ++prio_;
  if (!orders_.try_emplace(ref, Live{price, shares, prio, locate, buy}).second) return;  // a duplicate
  Queue& q = sides_[key(locate, buy)][price];
  q.emplace_hint(q.end(), prio, ref);  // the newest priority: at the back
  if (watched_[locate]) touches_.push_back(Touch{ref, prio, ts, price, shares, locate, 'A', buy});
}

void FeedBook::reduce(std::uint64_t ref, std::uint32_t shares, bool all, char kind, std::uint64_t ts) {
  const auto it = orders_.find(ref);
  if (it == orders_.end()) return;  // unknown: the card counts it
  Live& o = it->second;
  const std::uint32_t n = all || shares > o.shares ? o.shares : shares;
  if (watched_[o.locate]) touches_.push_back(Touch{ref, o.prio, ts, o.price, n, o.locate, kind, o.buy});
  if (n < o.shares) {
    o.shares -= n;
    return;
  }
  Side& side = sides_[key(o.locate, o.buy)];
  const auto level = side.find(o.price);
  level->second.erase(o.prio);
  if (level->second.empty()) side.erase(level);
  orders_.erase(it);
}

std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> FeedBook::level(std::uint16_t locate, bool buy,
                                                                                     std::uint32_t price) const {
  std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> out;
  const Side& side = sides_[key(locate, buy)];
  const auto level = side.find(price);
  if (level == side.end()) return out;
  out.reserve(level->second.size());
  for (const auto& [prio, ref] : level->second) out.emplace_back(ref, orders_.at(ref).shares, prio);
  return out;
}

std::vector<std::uint32_t> FeedBook::prices(std::uint16_t locate, bool buy) const {
  std::vector<std::uint32_t> out;
  const Side& side = sides_[key(locate, buy)];
  out.reserve(side.size());
  if (buy) {
    for (auto it = side.rbegin(); it != side.rend(); ++it) out.push_back(it->first);
  } else {
    for (const auto& [price, queue] : side) out.push_back(price);
  }
  return out;
}

}  // namespace tickgate::driver
