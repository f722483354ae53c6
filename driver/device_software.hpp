// SoftwareDevice: the SoftwareCard (the C++ model of the card) behind the Device interface.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "device.hpp"
#include "software_card.hpp"

namespace tickgate::driver {

/// The card in software as a Device. Its registers: `id`, `map_version`, `control` (bit 0 enable, bit 2
/// track-all and bit 3 level events as configured; bit 1 clears the counters), the counters (the card's
/// counters since the last clear), `events_ready` (events waiting), `ingress_free` (kIngressFree: the model
/// takes any batch), the capacities as configured (0: unbounded), `latency_min` 0xFFFFFFFF (nothing
/// measured), `cap_rules` and the rule registers (protocol/rules.py: rules are armed at run time). Every other
/// register reads 0. Other run-time configuration writes (session, symbols, filters, levels) are refused with
/// a DeviceError: the model takes its configuration when it is made (SoftwareCardConfig).
class SoftwareDevice final : public Device {
 public:
  static constexpr std::uint32_t kIngressFree = 0x7FFFFFFF;
  // The bits of `control`, from protocol/registers.py's fields (generated tickgate/protocol.hpp).
  static constexpr std::uint32_t kControlEnable = regs::field::control_enable.mask();
  static constexpr std::uint32_t kControlClearCounters = regs::field::control_clear_counters.mask();
  static constexpr std::uint32_t kControlTrackAll = regs::field::control_track_all.mask();
  static constexpr std::uint32_t kControlLevelEvents = regs::field::control_level_events.mask();

  explicit SoftwareDevice(SoftwareCardConfig config = {})
      : config_(std::move(config)), card_(std::make_unique<SoftwareCard>(config_)) {}

  std::size_t submit(std::span<const std::byte> batch) override {
    live().feed_dma(batch);  // std::invalid_argument on a malformed batch, before any of it is used
    return batch.size();
  }

  std::size_t collect(std::span<events::Event> out) override { return live().take_events(out); }

  std::size_t pending() override { return live().pending_events(); }

  std::uint32_t read_register(std::uint32_t offset) override {
    const regs::Register* r = checked(offset);
    live();
    const std::uint32_t word = (offset - r->offset) / 4;
    if (r->group == "counter") {
      const std::size_t i = (r->offset - regs::kCounterBase) / 8;
      const std::uint64_t v = card_->counters()[i] - baseline_[i];
      return static_cast<std::uint32_t>(word ? v >> 32 : v);
    }
    namespace o = regs::offset;
    if (const auto v = card_->read_rule_register(r->offset)) return *v;
    switch (r->offset) {
      case o::id: return regs::kIdMagic;
      case o::map_version: return regs::kMapVersion;
      case o::control: return control();
      case o::events_ready:
        return static_cast<std::uint32_t>(std::min<std::size_t>(card_->pending_events(), 0xFFFFFFFEu));
      case o::ingress_free: return kIngressFree;
      case o::latency_min: return 0xFFFFFFFFu;
      case o::cap_orders: return cap_orders();
      case o::cap_levels: return static_cast<std::uint32_t>(config_.max_levels.value_or(0));
      case o::cap_symbols: return static_cast<std::uint32_t>(config_.max_symbols.value_or(0));
      case o::lines:
        return config_.line_window
                   ? regs::field::lines_two_lines.put(1) | regs::field::lines_window.put(*config_.line_window)
                   : 0u;
      case o::cap_rules: return static_cast<std::uint32_t>(config_.max_rules);
      default: return 0;
    }
  }

  void write_register(std::uint32_t offset, std::uint32_t value) override {
    const regs::Register* r = checked(offset);
    live();
    if (r->access != regs::Access::kRw) {
      throw DeviceError(DeviceError::Kind::kRefused, "register " + register_name(offset) + " is read-only");
    }
    if (card_->write_rule_register(r->offset, value)) return;  // the rule table (protocol/rules.py)
    if (r->offset == regs::offset::control && (value & ~kControlClearCounters) == control()) {
      if (value & kControlClearCounters) baseline_ = card_->counters();
      return;
    }
    throw DeviceError(DeviceError::Kind::kRefused,
                      "the software card cannot apply register " + register_name(offset) +
                          " at run time (only control's clear-counters bit): give symbols, session and "
                          "first_sequence when opening the backend");
  }

  /// Every counter at once, from the card (not register by register).
  std::array<std::uint64_t, regs::kCounterCount> counters() override {
    const auto& c = live().counters();
    std::array<std::uint64_t, regs::kCounterCount> out{};
    for (std::size_t i = 0; i < regs::kCounters.size(); ++i) {
      const std::size_t at = (regs::kCounters[i].offset - regs::kCounterBase) / 8;
      out[i] = c[at] - baseline_[at];
    }
    return out;
  }

  /// A new card with the same configuration: empty books, session and counters, no events waiting.
  void reset() override {
    card_ = std::make_unique<SoftwareCard>(config_);
    baseline_ = {};
  }

  DeviceIdentity identify() override {
    DeviceIdentity d;
    d.backend = "software";
    d.location = "in-process";
    d.id = regs::kIdMagic;
    d.map_version = regs::kMapVersion;
    d.cap_orders = cap_orders();
    d.cap_levels = static_cast<std::uint32_t>(config_.max_levels.value_or(0));
    d.cap_symbols = static_cast<std::uint32_t>(config_.max_symbols.value_or(0));
    return d;
  }

  void close() override { card_.reset(); }

  const SoftwareCard& card() const noexcept { return *card_; }

 private:
  SoftwareCard& live() {
    if (!card_) throw DeviceError(DeviceError::Kind::kGone, "the software card is closed");
    return *card_;
  }

  std::uint32_t control() const noexcept {
    return kControlEnable | (config_.symbols ? 0u : kControlTrackAll) |
           (config_.level_events ? kControlLevelEvents : 0u);
  }

  /// Entries of the order table (two banks of 2**bucket_bits buckets of `ways`, and the stash); 0: unbounded.
  std::uint32_t cap_orders() const noexcept {
    if (!config_.order_table) return 0;
    const OrderTableConfig& t = *config_.order_table;
    return static_cast<std::uint32_t>(2 * (std::uint64_t{1} << t.bucket_bits) * t.ways + t.stash);
  }

  static const regs::Register* checked(std::uint32_t offset) {
    const regs::Register* r = register_at(offset);
    if (r == nullptr) {
      throw DeviceError(DeviceError::Kind::kRefused, "no register at " + register_name(offset) +
                                                         " of the register map (protocol/registers.py)");
    }
    return r;
  }

  SoftwareCardConfig config_;
  std::unique_ptr<SoftwareCard> card_;
  SoftwareCard::Counters baseline_{};
};

}  // namespace tickgate::driver
