// Python access to SoftwareCard: DMA batches in, events into caller-provided EVENT_DTYPE arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "software_card.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

/// A capacity argument: None (unbounded) or an int of at least 1.
std::optional<std::size_t> capacity(const py::object& v, const char* name) {
  if (v.is_none()) return std::nullopt;
  const auto n = v.cast<long long>();
  if (n < 1) throw py::value_error(std::string(name) + " must be at least 1 or None (unbounded), not " +
                                   std::to_string(n));
  return static_cast<std::size_t>(n);
}

SoftwareCard make(std::optional<std::vector<std::string>> symbols, std::optional<py::bytes> session,
                  std::optional<std::uint64_t> first_sequence, const py::object& order_table,
                  const py::object& max_levels, const py::object& max_symbols, bool level_events,
                  std::optional<unsigned> line_window, std::size_t max_rules) {
  SoftwareCardConfig config;
  config.max_rules = max_rules;
  if (symbols) {
    for (const std::string& s : *symbols) {
      for (unsigned char ch : s) {
        if (ch >= 0x80) throw py::value_error("ITCH symbols are ASCII: " + s);
      }
    }
    config.symbols = std::move(symbols);
  }
  if (session) {
    const std::string s = *session;
    if (s.size() != 10) throw py::value_error("session: the 10 bytes of a MoldUDP64 session, space-padded");
    std::array<char, 10> raw;
    std::copy(s.begin(), s.end(), raw.begin());
    config.session = raw;
  }
  config.first_sequence = first_sequence;
  if (!order_table.is_none()) {  // an OrderTableConfig, or anything with its three attributes
    const auto bits = order_table.attr("bucket_bits").cast<long long>();
    const auto ways = order_table.attr("ways").cast<long long>();
    const auto stash = order_table.attr("stash").cast<long long>();
    if (bits < 0 || ways < 0 || stash < 0 || ways > 0xFFFFFFFFLL || stash > 0xFFFFFFFFLL || bits > 64) {
      throw py::value_error("order_table: bucket_bits, ways and stash out of range");
    }
    config.order_table = OrderTableConfig{static_cast<unsigned>(bits), static_cast<std::uint32_t>(ways),
                                          static_cast<std::uint32_t>(stash)};
  }
  config.max_levels = capacity(max_levels, "max_levels");
  config.max_symbols = capacity(max_symbols, "max_symbols");
  config.level_events = level_events;
  config.line_window = line_window;
  try {
    return SoftwareCard(std::move(config));
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

std::size_t take_events(SoftwareCard& card, const py::array& out) {
  if (out.ndim() != 1 || out.itemsize() != static_cast<py::ssize_t>(events::kEventSize) ||
      !(out.flags() & py::array::c_style) || !out.writeable()) {
    throw py::value_error("out must be a writable, contiguous 1-D array of EVENT_DTYPE (64-byte records)");
  }
  auto* data = static_cast<events::Event*>(const_cast<void*>(out.data()));
  return card.take_events({data, static_cast<std::size_t>(out.size())});
}

}  // namespace

void bind_software(py::module_& m) {
  py::class_<SoftwareCard>(m, "SoftwareCard",
                           "The card in software, byte-exact with tickgate.model.card.ReferenceCard: "
                           "MoldUDP64 packets in, 64-byte events and counters out.")
      .def(py::init(&make), py::arg("symbols") = py::none(), py::kw_only(), py::arg("session") = py::none(),
           py::arg("first_sequence") = py::none(), py::arg("order_table") = py::none(),
           py::arg("max_levels") = py::none(), py::arg("max_symbols") = py::none(),
           py::arg("level_events") = false, py::arg("line_window") = py::none(), py::arg("max_rules") = 64,
           "symbols: names to track (None: all); session, first_sequence, order_table (an OrderTableConfig), "
           "max_levels, max_symbols, level_events, line_window, max_rules: as CardConfig (ValueError where "
           "CardConfig refuses).")
      .def(
          "write_register",
          [](SoftwareCard& card, std::uint32_t offset, std::uint32_t value) {
            if (!card.write_rule_register(offset, value)) {
              throw py::value_error("SoftwareCard.write_register takes the rule registers only (protocol/rules.py)");
            }
          },
          py::arg("offset"), py::arg("value"), "Write a rule register (rule_index, rule_*, rule_write).")
      .def(
          "read_register",
          [](const SoftwareCard& card, std::uint32_t offset) {
            const auto v = card.read_rule_register(offset);
            if (!v) throw py::value_error("SoftwareCard.read_register reads the rule registers only");
            return *v;
          },
          py::arg("offset"), "Read a rule register (rule_left: fires left of the rule at rule_index).")
      .def(
          "feed_dma",
          [](SoftwareCard& card, const py::buffer& batch) {
            const py::buffer_info info = batch.request();
            const auto bytes = bytes_of(info);
            py::gil_scoped_release release;
            try {
              return card.feed_dma(bytes);
            } catch (const std::invalid_argument& e) {
              py::gil_scoped_acquire acquire;
              throw py::value_error(e.what());
            }
          },
          py::arg("batch"),
          "Process a DMA batch (records of a 16-byte DMA header, the MoldUDP64 packet, padding to 8 "
          "bytes); the number of packets. The batch is checked whole before any of it is used.")
      .def(
          "feed",
          [](SoftwareCard& card, const py::buffer& packet, std::uint64_t rx_ns, unsigned line) {
            if (line > 1) throw py::value_error("line must be 0 (A) or 1 (B), not " + std::to_string(line));
            const py::buffer_info info = packet.request();
            card.feed(bytes_of(info), rx_ns, line);
          },
          py::arg("packet"), py::arg("rx_ns") = 0, py::arg("line") = 0,
          "Process one MoldUDP64 packet received at rx_ns on line 0 (A) or 1 (B).")
      .def("end_of_input", &SoftwareCard::end_of_input,
           "The input has ended: with two lines, release every packet the arbiter holds.")
      .def("take_events", &take_events, py::arg("out"),
           "Move up to len(out) pending events into out (an EVENT_DTYPE array); how many.")
      .def("pending_events", &SoftwareCard::pending_events, "Events emitted and not yet taken.")
      .def(
          "counters",
          [](const SoftwareCard& card) {
            py::dict d;
            const auto& values = card.counters();
            for (std::size_t i = 0; i < regs::kCounters.size(); ++i) {
              d[py::str(std::string(regs::kCounters[i].name))] = values[i];
            }
            return d;
          },
          "Every counter of protocol.registers.COUNTERS by name.");
  m.def(
      "order_table_buckets",
      [](std::uint64_t ref, unsigned bucket_bits) {
        if (bucket_bits < 1 || bucket_bits > OrderTable::kMaxBucketBits) {
          throw py::value_error("bucket_bits must be 1 to " + std::to_string(OrderTable::kMaxBucketBits));
        }
        const auto [left, right] = OrderTable::candidates(ref, (1u << bucket_bits) - 1);
        return py::make_tuple(left, right);
      },
      py::arg("ref"), py::arg("bucket_bits"),
      "The software card's candidate buckets of a reference, as protocol.order_hash.buckets (for tests).");
}

}  // namespace tickgate::driver
