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

std::span<const std::byte> bytes_of(const py::buffer_info& info) {
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw py::value_error("expected a contiguous 1-D buffer of bytes (bytes, bytearray, uint8 array)");
  }
  return {static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size)};
}

SoftwareCard make(std::optional<std::vector<std::string>> symbols, std::optional<py::bytes> session,
                  std::optional<std::uint64_t> first_sequence, const py::object& order_table,
                  const py::object& max_levels, const py::object& max_symbols) {
  if (!order_table.is_none() || !max_levels.is_none() || !max_symbols.is_none()) {
    throw py::value_error("SoftwareCard has no capacities yet (order_table, max_levels, max_symbols): "
                          "they are being redesigned in the model; leave them None (unbounded)");
  }
  SoftwareCardConfig config;
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
           "symbols: names to track (None: all); session, first_sequence: as CardConfig. Capacities "
           "are not supported yet: passing one raises ValueError.")
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
          [](SoftwareCard& card, const py::buffer& packet, std::uint64_t rx_ns) {
            const py::buffer_info info = packet.request();
            card.feed(bytes_of(info), rx_ns);
          },
          py::arg("packet"), py::arg("rx_ns") = 0, "Process one MoldUDP64 packet received at rx_ns.")
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
}

}  // namespace tickgate::driver
