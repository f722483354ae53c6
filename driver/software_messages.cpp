// SoftwareCard, one message at a time: classification (model/decoder.py classify) and the book rules
// of model/card.py (add, execute, cancel, delete, replace, trades, status, directory).
#include <algorithm>
#include <bit>
#include <cstring>
#include <type_traits>

#include "software_card.hpp"
#include "software_events.hpp"

namespace tickgate::driver {

namespace c = regs::counter;
using events::BboEvent;
using events::DegradedEvent;
using events::LevelEvent;
using events::StatusEvent;
using events::TradeEvent;

void SoftwareCard::message(const std::byte* p, std::size_t length, std::uint64_t seq, std::uint64_t rx_ns) {
  if (length == 0) {
    ++counters_[c::msg_bad_length];
    return;
  }
  const std::uint8_t type = wire::read_u8(p);
  const std::size_t expected = itch::kLengthByType[type];
  if (expected == 0) {
    ++counters_[c::msg_unknown_type];
    return;
  }
  if (length != expected) {
    ++counters_[c::msg_bad_length];
    return;
  }
  ++counters_[type_counter_[type]];
  itch::visit_type(type, [&](auto tag) {
    using M = decltype(tag);
    apply<M>(p, Msg{type, seq, M::timestamp(p), rx_ns});
  });
}

void SoftwareCard::prefetch_order(const std::byte* p, std::size_t length) const noexcept {
  if (length == 0) return;
  const std::uint8_t type = wire::read_u8(p);
  if (length != itch::kLengthByType[type]) return;
  switch (type) {
    case itch::AddOrder::kType: return orders_.prefetch(itch::AddOrder::order_reference_number(p));
    case itch::AddOrderMpid::kType: return orders_.prefetch(itch::AddOrderMpid::order_reference_number(p));
    case itch::OrderExecuted::kType: return orders_.prefetch(itch::OrderExecuted::order_reference_number(p));
    case itch::OrderExecutedWithPrice::kType:
      return orders_.prefetch(itch::OrderExecutedWithPrice::order_reference_number(p));
    case itch::OrderCancel::kType: return orders_.prefetch(itch::OrderCancel::order_reference_number(p));
    case itch::OrderDelete::kType: return orders_.prefetch(itch::OrderDelete::order_reference_number(p));
    case itch::OrderReplace::kType: return orders_.prefetch(itch::OrderReplace::original_order_reference_number(p));
    default: return;
  }
}

template <class M>
void SoftwareCard::apply(const std::byte* p, const Msg& m) {
  if constexpr (std::is_same_v<M, itch::AddOrder> || std::is_same_v<M, itch::AddOrderMpid>) add<M>(p, m);
  else if constexpr (std::is_same_v<M, itch::OrderExecuted> || std::is_same_v<M, itch::OrderExecutedWithPrice>)
    execute<M>(p, m);
  else if constexpr (std::is_same_v<M, itch::OrderCancel>) cancel(p, m);
  else if constexpr (std::is_same_v<M, itch::OrderDelete>) erase(p, m);
  else if constexpr (std::is_same_v<M, itch::OrderReplace>) replace(p, m);
  else if constexpr (std::is_same_v<M, itch::Trade>) trade(p, m);
  else if constexpr (std::is_same_v<M, itch::CrossTrade>) cross(p, m);
  else if constexpr (std::is_same_v<M, itch::StockTradingAction>) trading_action(p, m);
  else if constexpr (std::is_same_v<M, itch::SystemEvent>) system_event(p, m);
  else if constexpr (std::is_same_v<M, itch::StockDirectory>) directory(p);
}

// -- books, orders and levels ----------------------------------------------------------------------

std::uint32_t SoftwareCard::book_of(std::uint16_t locate, const Msg& m) {
  const std::uint32_t b = book_index_[locate];
  if (b != kNoBook) return b;
  if (!tracked(locate) || refused_[locate]) {
    ++counters_[c::untracked_symbol];
    return kNoBook;
  }
  if (books_.size() >= max_symbols_) return refuse(locate, m);
  books_.emplace_back(locate, max_levels_);
  return book_index_[locate] = static_cast<std::uint32_t>(books_.size() - 1);
}

std::uint32_t SoftwareCard::refuse(std::uint16_t locate, const Msg& m) {
  refused_[locate] = true;
  ++counters_[c::symbols_full];
  ++counters_[c::untracked_symbol];
  ++counters_[c::degraded_symbols];
  auto e = record<DegradedEvent>(static_cast<std::uint8_t>(events::EventFlag::kDegraded), locate, m);
  e.degraded_reason = static_cast<std::uint8_t>(events::DegradedReason::kSymbolsFull);
  push(e);
  return kNoBook;
}

void SoftwareCard::count_missing(std::uint16_t locate) {
  const bool known = book_index_[locate] != kNoBook || (tracked(locate) && !refused_[locate]);
  ++counters_[known ? c::unknown_ref : c::untracked_symbol];
}

bool SoftwareCard::valid(std::uint32_t shares, std::uint32_t price) {
  if (shares == 0 || price == 0) {
    ++counters_[c::invalid_order];
    return false;
  }
  return true;
}

void SoftwareCard::degrade(std::uint32_t index, events::DegradedReason reason, const Msg& m) {
  Book& b = books_[index];
  const auto flag = static_cast<std::uint8_t>(events::EventFlag::kDegraded);
  if (b.flags & flag) return;
  b.flags = flag;
  ++counters_[c::degraded_symbols];
  auto e = record<DegradedEvent>(flag, b.locate, m);
  e.degraded_reason = static_cast<std::uint8_t>(reason);
  push(e);
}

void SoftwareCard::level_event(std::uint32_t index, bool is_bid, std::uint32_t price, const LevelUpdate& u,
                               const Msg& m) {
  const Book& b = books_[index];
  auto e = record<LevelEvent>(b.flags, b.locate, m);
  e.level_side = is_bid ? 'B' : 'S';
  e.level_action = u.action;
  e.level_index = static_cast<std::uint8_t>(u.index);
  e.level_px = price;
  e.level_sz = static_cast<std::uint32_t>(u.shares);
  e.level_orders = u.orders;
  push(e);
}

void SoftwareCard::take(const Order& o, std::uint64_t shares, bool removes_order, const Msg& m) {
  const LevelUpdate u = books_[o.book].side(o.is_bid).reduce(o.price, shares, removes_order);
  if (u.action == 0) [[unlikely]] ++counters_[c::level_missing];
  else if (level_events_) level_event(o.book, o.is_bid, o.price, u, m);
}

std::uint32_t SoftwareCard::insert(std::uint64_t ref, std::uint32_t book, bool is_bid, std::uint32_t price,
                                   std::uint32_t shares, const Msg& m) {
  std::uint32_t other = kNoBook;
  if (Order* e = orders_.find(ref)) {
    ++counters_[c::duplicate_ref];
    take(*e, e->shares, true, m);
    if (table_) table_->remove(e->slot);
    if (e->book != book) other = e->book;
    orders_.erase(e);
  }
  std::uint32_t slot = OrderTable::kNone;
  if (table_) {
    slot = table_->insert(ref);
    if (slot == OrderTable::kNone) {
      ++counters_[c::order_table_full];
      degrade(book, events::DegradedReason::kOrderTableFull, m);
      return other;
    }
    if (slot == OrderTable::kStash) ++counters_[c::order_table_stashed];
    else if (slot >= table_->buckets()) ++counters_[c::order_table_second_choice];
  }
  bool full = false;
  const LevelUpdate u = books_[book].side(is_bid).add(price, shares, full);
  if (u.action != 0 && level_events_) level_event(book, is_bid, price, u, m);
  if (full) {
    ++counters_[c::levels_full];
    degrade(book, events::DegradedReason::kLevelsFull, m);
  }
  orders_.insert(Order{ref, price, shares, book, is_bid, slot});
  return other;
}

void SoftwareCard::reduce(Order* o, std::uint64_t shares, const Msg& m) {
  if (shares >= o->shares) {
    if (shares > o->shares) ++counters_[c::oversized_reduce];
    remove(o, m);
    return;
  }
  o->shares -= static_cast<std::uint32_t>(shares);
  take(*o, shares, false, m);
}

void SoftwareCard::remove(Order* o, const Msg& m) {
  take(*o, o->shares, true, m);
  if (table_) table_->remove(o->slot);
  orders_.erase(o);
}

void SoftwareCard::bbo_if_changed(std::uint32_t index, const Msg& m) {
  Book& b = books_[index];
  // Compared and stored one by one, and the event written in place: a copy through the stack (an array,
  // an event record) made the loads wait for the narrower stores before them.
  const std::uint64_t bid_px = b.bids.best_price(), bid_sz = b.bids.best_shares();
  const std::uint64_t ask_px = b.asks.best_price(), ask_sz = b.asks.best_shares();
  if (bid_px == b.last_bbo[0] && bid_sz == b.last_bbo[1] && ask_px == b.last_bbo[2] && ask_sz == b.last_bbo[3]) {
    return;
  }
  b.last_bbo[0] = bid_px;
  b.last_bbo[1] = bid_sz;
  b.last_bbo[2] = ask_px;
  b.last_bbo[3] = ask_sz;
  events::Event& e = push_bbo(b.flags, b.locate, m);
  e.bid_px = static_cast<std::uint32_t>(bid_px);
  e.bid_sz = static_cast<std::uint32_t>(bid_sz);
  e.ask_px = static_cast<std::uint32_t>(ask_px);
  e.ask_sz = static_cast<std::uint32_t>(ask_sz);
  if (rules_.armed(b.locate)) fire_rules(std::bit_cast<BboEvent>(e));  // armed rules: their FIRE events follow
}

// -- handlers ---------------------------------------------------------------------------------------

template <class M>
void SoftwareCard::add(const std::byte* p, const Msg& m) {
  const std::uint32_t book = book_of(M::stock_locate(p), m);
  if (book == kNoBook) return;
  const char side = M::buy_sell_indicator(p);
  const std::uint32_t shares = M::shares(p), price = M::price(p);
  if (side != 'B' && side != 'S') {
    ++counters_[c::invalid_order];
    return;
  }
  if (!valid(shares, price)) return;
  const std::uint32_t other = insert(M::order_reference_number(p), book, side == 'B', price, shares, m);
  bbo_if_changed(book, m);
  if (other != kNoBook) bbo_if_changed(other, m);
}

template <class M>
void SoftwareCard::execute(const std::byte* p, const Msg& m) {
  const std::uint64_t ref = M::order_reference_number(p);
  Order* o = orders_.find(ref);
  if (o == nullptr) return count_missing(M::stock_locate(p));
  const std::uint32_t book = o->book;
  const std::uint64_t executed = M::executed_shares(p);
  const Book& b = books_[book];
  auto e = record<TradeEvent>(b.flags, b.locate, m);  // the trade comes before the level events
  if constexpr (std::is_same_v<M, itch::OrderExecuted>) {
    e.trade_px = o->price;
    e.printable = 'Y';
  } else {
    e.trade_px = M::execution_price(p);
    e.printable = static_cast<std::uint8_t>(M::printable(p));
  }
  e.trade_side = o->is_bid ? 'B' : 'S';
  e.trade_shares = std::min<std::uint64_t>(executed, o->shares);
  e.match_number = M::match_number(p);
  e.order_ref = ref;
  push(e);
  reduce(o, executed, m);
  bbo_if_changed(book, m);
}

void SoftwareCard::cancel(const std::byte* p, const Msg& m) {
  using M = itch::OrderCancel;
  Order* o = orders_.find(M::order_reference_number(p));
  if (o == nullptr) return count_missing(M::stock_locate(p));
  const std::uint32_t book = o->book;
  reduce(o, M::cancelled_shares(p), m);
  bbo_if_changed(book, m);
}

void SoftwareCard::erase(const std::byte* p, const Msg& m) {
  using M = itch::OrderDelete;
  Order* o = orders_.find(M::order_reference_number(p));
  if (o == nullptr) return count_missing(M::stock_locate(p));
  const std::uint32_t book = o->book;
  remove(o, m);
  bbo_if_changed(book, m);
}

void SoftwareCard::replace(const std::byte* p, const Msg& m) {
  using M = itch::OrderReplace;
  Order* o = orders_.find(M::original_order_reference_number(p));
  if (o == nullptr) return count_missing(M::stock_locate(p));
  const std::uint32_t book = o->book;
  const bool is_bid = o->is_bid;
  remove(o, m);
  std::uint32_t other = kNoBook;
  const std::uint32_t shares = M::shares(p), price = M::price(p);
  if (valid(shares, price)) other = insert(M::new_order_reference_number(p), book, is_bid, price, shares, m);
  bbo_if_changed(book, m);
  if (other != kNoBook) bbo_if_changed(other, m);
}

void SoftwareCard::trade(const std::byte* p, const Msg& m) {
  using M = itch::Trade;
  const std::uint32_t book = book_of(M::stock_locate(p), m);
  if (book == kNoBook) return;
  auto e = record<TradeEvent>(books_[book].flags, books_[book].locate, m);
  e.trade_px = M::price(p);
  e.trade_side = static_cast<std::uint8_t>(M::buy_sell_indicator(p));
  e.printable = 'Y';
  e.trade_shares = M::shares(p);
  e.match_number = M::match_number(p);
  push(e);
}

void SoftwareCard::cross(const std::byte* p, const Msg& m) {
  using M = itch::CrossTrade;
  const std::uint32_t book = book_of(M::stock_locate(p), m);
  if (book == kNoBook) return;
  auto e = record<TradeEvent>(books_[book].flags, books_[book].locate, m);
  e.trade_px = M::cross_price(p);
  e.printable = 'Y';
  e.cross_type = static_cast<std::uint8_t>(M::cross_type(p));
  e.trade_shares = M::shares(p);
  e.match_number = M::match_number(p);
  push(e);
}

void SoftwareCard::trading_action(const std::byte* p, const Msg& m) {
  using M = itch::StockTradingAction;
  const std::uint32_t book = book_of(M::stock_locate(p), m);
  if (book == kNoBook) return;
  auto e = record<StatusEvent>(books_[book].flags, books_[book].locate, m);
  e.status_code = static_cast<std::uint8_t>(M::trading_state(p));
  const std::string_view reason = M::reason(p);
  std::memcpy(e.status_reason, reason.data(), std::min(reason.size(), sizeof e.status_reason));
  push(e);
}

void SoftwareCard::system_event(const std::byte* p, const Msg& m) {
  using M = itch::SystemEvent;
  auto e = record<StatusEvent>(0, M::stock_locate(p), m);
  e.status_code = static_cast<std::uint8_t>(M::event_code(p));
  push(e);
}

void SoftwareCard::directory(const std::byte* p) {
  using M = itch::StockDirectory;
  if (track_all_) return;
  std::string_view name = M::stock(p);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  tracked_[M::stock_locate(p)] = std::find(symbols_.begin(), symbols_.end(), name) != symbols_.end();
}

}  // namespace tickgate::driver
