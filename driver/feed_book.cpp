// FeedBook (feed_book.hpp): the feed's order-by-order book, field offsets from the generated protocol.hpp.
#include "feed_book.hpp"

#include <algorithm>

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

FeedBook::FeedBook() : orders_(1 << 16), sides_(1 << 17), ours_(1 << 17) { nodes_.reserve(1 << 16); }

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
        Order* o = orders_.find(OrderReplace::original_order_reference_number(p));
        if (o == nullptr) break;
        const std::uint16_t locate = static_cast<std::uint16_t>(o->book);
        const bool buy = o->is_bid;
        reduce(o->ref, 0, true, 'X', ts);
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
  if (orders_.find(ref) != nullptr) return;  // a duplicate reference: the card counts it
  std::uint32_t i;
  if (free_.empty()) {
    i = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back({});
  } else {
    i = free_.back();
    free_.pop_back();
  }
  Ends& side = sides_[key(locate, buy)];
  nodes_[i] = Node{ref, prio, price, shares, side.tail, kNil};  // the newest priority: at the back
  (side.tail == kNil ? side.head : nodes_[side.tail].next) = i;
  side.tail = i;
  orders_.insert(Order{ref, price, 1, locate, buy, i});
  if (reaches('A', locate, buy, price)) touches_.push_back(Touch{ref, prio, ts, price, shares, locate, 'A', buy});
}

void FeedBook::reduce(std::uint64_t ref, std::uint32_t shares, bool all, char kind, std::uint64_t ts) {
  Order* o = orders_.find(ref);
  if (o == nullptr) return;  // unknown: the card counts it
  const std::uint32_t i = o->slot;
  Node& node = nodes_[i];
  const auto locate = static_cast<std::uint16_t>(o->book);
  const bool buy = o->is_bid;
  const std::uint32_t n = all || shares > node.shares ? node.shares : shares;
  if (reaches(kind, locate, buy, node.price)) {
    touches_.push_back(Touch{ref, node.prio, ts, node.price, n, locate, kind, buy});
  }
  if (n < node.shares) {
    node.shares -= n;
    return;
  }
  Ends& side = sides_[key(locate, buy)];
  (node.prev == kNil ? side.head : nodes_[node.prev].next) = node.next;
  (node.next == kNil ? side.tail : nodes_[node.next].prev) = node.prev;
  free_.push_back(i);
  orders_.erase(o);
}

std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> FeedBook::level(std::uint16_t locate, bool buy,
                                                                                     std::uint32_t price) const {
  std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> out;
  for (std::uint32_t i = sides_[key(locate, buy)].head; i != kNil; i = nodes_[i].next) {
    const Node& n = nodes_[i];
    if (n.price == price) out.emplace_back(n.ref, n.shares, n.prio);
  }
  return out;
}

std::vector<std::uint32_t> FeedBook::prices(std::uint16_t locate, bool buy) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = sides_[key(locate, buy)].head; i != kNil; i = nodes_[i].next) out.push_back(nodes_[i].price);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (buy) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace tickgate::driver
