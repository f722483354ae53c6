// What bind_device.cpp, f1_bind.cpp and f2_bind.cpp share: the SoftwareCard configuration from Python
// arguments, a slot as a dict, and the f1, f2 and sim parts of the bindings.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "f1_scan.hpp"
#include "software_card.hpp"

namespace tickgate::driver {

/// A capacity argument: None (unbounded) or at least 1.
inline std::optional<std::size_t> capacity_arg(const pybind11::object& v, const char* name) {
  if (v.is_none()) return std::nullopt;
  const auto n = v.cast<long long>();
  if (n < 1) {
    throw pybind11::value_error(std::string(name) + " must be at least 1 or None (unbounded), not " +
                                std::to_string(n));
  }
  return static_cast<std::size_t>(n);
}

/// The card's configuration from Python arguments, as SoftwareCard takes them: symbols (None: all), session
/// (10 bytes), first_sequence, order_table (anything with bucket_bits, ways, stash: model.order_table's
/// OrderTableConfig), max_levels, max_symbols (None: unbounded), level_events, line_window (None: one line;
/// SoftwareCard checks its range), max_rules.
inline SoftwareCardConfig card_config(std::optional<std::vector<std::string>> symbols,
                                      std::optional<pybind11::bytes> session,
                                      std::optional<std::uint64_t> first_sequence,
                                      const pybind11::object& order_table, const pybind11::object& max_levels,
                                      const pybind11::object& max_symbols, bool level_events,
                                      std::optional<unsigned> line_window = std::nullopt,
                                      std::size_t max_rules = 64) {
  SoftwareCardConfig config;
  config.max_rules = max_rules;
  config.symbols = std::move(symbols);
  if (session) {
    const std::string s = *session;
    if (s.size() != 10) throw pybind11::value_error("session: the 10 bytes of a MoldUDP64 session, space-padded");
    std::array<char, 10> raw{};
    std::copy(s.begin(), s.end(), raw.begin());
    config.session = raw;
  }
  config.first_sequence = first_sequence;
  if (!order_table.is_none()) {
    const auto bits = order_table.attr("bucket_bits").cast<long long>();
    const auto ways = order_table.attr("ways").cast<long long>();
    const auto stash = order_table.attr("stash").cast<long long>();
    if (bits < 1 || bits > 31 || ways < 1 || ways > 0xFFFF || stash < 0 || stash > 0xFFFF) {
      throw pybind11::value_error("order_table: bucket_bits, ways or stash out of range");
    }
    config.order_table = OrderTableConfig{static_cast<unsigned>(bits), static_cast<std::uint32_t>(ways),
                                          static_cast<std::uint32_t>(stash)};
  }
  config.max_levels = capacity_arg(max_levels, "max_levels");
  config.max_symbols = capacity_arg(max_symbols, "max_symbols");
  config.level_events = level_events;
  config.line_window = line_window;
  return config;
}

/// A slot as a dict: index, addresses, app_present, the application function's IDs, xdma (f1_bind.cpp).
pybind11::dict slot_dict(const F1Slot& s);

/// F1Layout, F1Image, f1_scan, f1_image_mismatch, PosixIo, F1Device, FakeF1Card (f1_bind.cpp). Needs Device.
void bind_f1(pybind11::module_& m);

/// f2_scan, f2_image_mismatch, F2Io, F2Device, FakeF2Card (f2_bind.cpp). Needs bind_f1 (F1Image, PosixIo).
void bind_f2(pybind11::module_& m);

/// SimDevice (sim_bind.cpp). Needs Device.
void bind_sim(pybind11::module_& m);

}  // namespace tickgate::driver
