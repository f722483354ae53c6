// How SoftwareCard writes an event: a zeroed record of one kind, its common fields, counted by kind.
#pragma once

#include <bit>
#include <cstddef>

#include "software_card.hpp"

namespace tickgate::driver {

template <class E>
void SoftwareCard::set_common(E& e, std::uint8_t kind, std::uint8_t flags, std::uint16_t locate,
                              const Msg& m) noexcept {
  e.kind = kind;
  e.flags = flags;
  e.locate = locate;
  e.msg_type = m.type;
  e.seq = m.seq;
  e.ts_exch = m.ts;
  e.ts_local = m.rx;
}

template <class E>
E SoftwareCard::record(std::uint8_t flags, std::uint16_t locate, const Msg& m) const noexcept {
  E e{};
  set_common(e, static_cast<std::uint8_t>(E::kKind), flags, locate, m);
  return e;
}

template <class E>
void SoftwareCard::push(const E& e) {
  namespace c = regs::counter;
  events_.push_back(std::bit_cast<events::Event>(e));
  ++counters_[c::events];
  if constexpr (E::kKind == events::EventKind::kBbo) ++counters_[c::events_bbo];
  else if constexpr (E::kKind == events::EventKind::kTrade) ++counters_[c::events_trade];
  else if constexpr (E::kKind == events::EventKind::kStatus) ++counters_[c::events_status];
  else if constexpr (E::kKind == events::EventKind::kGap) ++counters_[c::events_gap];
  else if constexpr (E::kKind == events::EventKind::kSession) ++counters_[c::events_session];
  else if constexpr (E::kKind == events::EventKind::kDegraded) ++counters_[c::events_degraded];
  else if constexpr (E::kKind == events::EventKind::kLevel) ++counters_[c::events_level];
  else if constexpr (E::kKind == events::EventKind::kFire) ++counters_[c::events_fire];
  else static_assert(sizeof(E) == 0, "an event kind without its counter");
}

// events::Event is the BBO layout, so a BBO event can be written into the buffer's own record.
static_assert(sizeof(events::BboEvent) == sizeof(events::Event) &&
              offsetof(events::BboEvent, bid_px) == offsetof(events::Event, bid_px) &&
              offsetof(events::BboEvent, bid_sz) == offsetof(events::Event, bid_sz) &&
              offsetof(events::BboEvent, ask_px) == offsetof(events::Event, ask_px) &&
              offsetof(events::BboEvent, ask_sz) == offsetof(events::Event, ask_sz));

inline events::Event& SoftwareCard::push_bbo(std::uint8_t flags, std::uint16_t locate, const Msg& m) {
  namespace c = regs::counter;
  events::Event& e = events_.emplace_back();  // value-initialised: every byte zero
  set_common(e, static_cast<std::uint8_t>(events::BboEvent::kKind), flags, locate, m);
  ++counters_[c::events];
  ++counters_[c::events_bbo];
  return e;
}

}  // namespace tickgate::driver
