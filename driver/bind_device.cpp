// Python access to the Device interface, its errors and SoftwareDevice; the f1 backend's part is f1_bind.cpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "device_bind.hpp"
#include "device_software.hpp"
#include "order_path.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

/// One packet as a DMA batch of its own, into `batch`: the bytes protocol.moldudp64.pack_dma makes of it.
void pack_one(std::vector<std::byte>& batch, std::span<const std::byte> packet, std::uint64_t rx_ns) {
  using mold::DmaHeader;
  if (packet.size() > 0xFFFF) throw py::value_error("a MoldUDP64 packet is at most 65535 bytes");
  const std::size_t end = DmaHeader::kLength + packet.size();
  batch.assign((end + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign, std::byte{0});
  for (std::size_t i = 0; i < DmaHeader::Width::length; ++i) {
    batch[DmaHeader::Offset::length + i] = static_cast<std::byte>(packet.size() >> (8 * i));
  }
  for (std::size_t i = 0; i < DmaHeader::Width::rx_time_ns; ++i) {
    batch[DmaHeader::Offset::rx_time_ns + i] = static_cast<std::byte>(rx_ns >> (8 * i));
  }
  std::copy(packet.begin(), packet.end(), batch.begin() + DmaHeader::kLength);
}

py::dict identity(const DeviceIdentity& d) {
  py::dict out;
  out["backend"] = d.backend;
  out["location"] = d.location;
  out["vendor_id"] = d.vendor_id;
  out["device_id"] = d.device_id;
  out["subsystem_vendor_id"] = d.subsystem_vendor_id;
  out["subsystem_id"] = d.subsystem_id;
  out["id"] = d.id;
  out["map_version"] = d.map_version;
  out["cap_orders"] = d.cap_orders;
  out["cap_levels"] = d.cap_levels;
  out["cap_symbols"] = d.cap_symbols;
  return out;
}

/// Python exception classes of DeviceError::Kind, all subclasses of tickgate._driver.DeviceError.
struct Errors {
  py::object base, not_found, wrong_image, gone, io, timeout, refused;
};

void bind_errors(py::module_& m) {
  static Errors e;  // lives as long as the module: the translator below refers to it
  e.base = py::reinterpret_steal<py::object>(
      PyErr_NewExceptionWithDoc("tickgate._driver.DeviceError", "A device failed: the message says where and "
                                "what to check.", PyExc_OSError, nullptr));
  auto sub = [&](const char* name, const char* doc) {
    const std::string full = std::string("tickgate._driver.") + name;
    return py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(full.c_str(), doc, e.base.ptr(), nullptr));
  };
  e.not_found = sub("NoCardError", "No card where one was looked for (no slot, no application function, no XDMA).");
  e.wrong_image = sub("WrongImageError", "The slot holds another image than the one expected.");
  e.gone = sub("CardGoneError", "The card stopped answering (a register read 0xFFFFFFFF).");
  e.io = sub("DeviceIOError", "A transfer or an open failed (EIO, permissions, missing files).");
  e.timeout = sub("DeviceTimeoutError", "The card made no progress within the timeout.");
  e.refused = sub("RegisterRefusedError", "A register access the device cannot carry out.");
  m.attr("DeviceError") = e.base;
  m.attr("NoCardError") = e.not_found;
  m.attr("WrongImageError") = e.wrong_image;
  m.attr("CardGoneError") = e.gone;
  m.attr("DeviceIOError") = e.io;
  m.attr("DeviceTimeoutError") = e.timeout;
  m.attr("RegisterRefusedError") = e.refused;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DeviceError& err) {
      using K = DeviceError::Kind;
      const py::object& type = err.kind() == K::kNotFound     ? e.not_found
                               : err.kind() == K::kWrongImage ? e.wrong_image
                               : err.kind() == K::kGone       ? e.gone
                               : err.kind() == K::kIo         ? e.io
                               : err.kind() == K::kTimeout    ? e.timeout
                                                              : e.refused;
      PyErr_SetString(type.ptr(), err.what());
    }
  });
}

}  // namespace

void bind_device(py::module_& m) {
  bind_errors(m);

  m.def(
      "build_info",
      [] {
        py::dict d;
#if defined(__clang__)
        d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
        d["compiler"] = std::string("gcc ") + __VERSION__;
#else
        d["compiler"] = "unknown";
#endif
        d["cplusplus"] = static_cast<long>(__cplusplus);
#if defined(__OPTIMIZE__)
        d["optimized"] = true;
#else
        d["optimized"] = false;
#endif
        d["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) + "." +
                        std::to_string(PYBIND11_VERSION_PATCH);
        d["map_version"] = regs::kMapVersion;
        d["counters"] = regs::kCounterCount;
        d["devices"] = py::make_tuple("software", "sim", "f1", "f2");
        return d;
      },
      "How this module was built: compiler, C++ standard, optimisation, pybind11, the register map it has.");

  py::class_<Device, std::shared_ptr<Device>>(m, "Device",
                                              "One card, whatever implements it: DMA batches in, 64-byte events "
                                              "out, registers by byte offset (protocol.registers.REGISTER_MAP).")
      .def(
          "submit",
          [](Device& d, const py::buffer& batch) {
            const py::buffer_info info = batch.request();
            const auto bytes = bytes_of(info);
            py::gil_scoped_release release;
            return d.submit(bytes);
          },
          py::arg("batch"),
          "Hand a DMA batch (protocol.moldudp64.pack_dma) to the card, all of it; its size in bytes.")
      .def(
          "submit_packet",
          [](Device& d, const py::buffer& packet, std::uint64_t rx_ns, const std::optional<py::array>& out) {
            thread_local std::vector<std::byte> batch;
            const py::buffer_info info = packet.request();
            pack_one(batch, bytes_of(info), rx_ns);
            const std::size_t size = d.submit(batch);
            if (!out) return size;
            const auto span = events_of(*out);
            d.settle();
            return d.take(span);
          },
          py::arg("packet"), py::arg("rx_ns") = 0, py::arg("out") = py::none(),
          "One packet as a DMA batch of its own (as pack_dma([(packet, rx_ns)])): its size in bytes; with out, "
          "then settle and collect into out: how many events (the tick of a live loop, in one call).")
      .def(
          "collect",
          [](Device& d, const py::array& out) {
            const auto span = events_of(out);
            py::gil_scoped_release release;
            return d.take(span);
          },
          py::arg("out"), "Move up to len(out) waiting events into out (an EVENT_DTYPE array); how many.")
      .def(
          "attach_orders",
          [](Device& d, orders::OrderPath* path) { d.set_tap(path); },
          py::arg("path").none(true), py::keep_alive<1, 2>(),
          "Hand every collected batch to a native OrderPath before returning it (None: detach): it sends the "
          "orders of FIRE events from C++, risk checked (protocol/rules.py).")
      .def_property_readonly("orders_attached", [](Device& d) { return d.tap() != nullptr; })
      .def("pending", &Device::pending, py::call_guard<py::gil_scoped_release>(), "Events waiting.")
      .def("read_register", &Device::read_register, py::arg("offset"), "The 32-bit register at a byte offset.")
      .def("write_register", &Device::write_register, py::arg("offset"), py::arg("value"))
      .def("read_register64", &Device::read_register64, py::arg("offset"),
           "A 64-bit register, low word at offset, read without tearing.")
      .def("reset", &Device::reset, py::call_guard<py::gil_scoped_release>(),
           "Clear the counters and drop the waiting events (see the backend for what else).")
      .def("identify", [](Device& d) { return identity(d.identify()); },
           "backend, location, PCI IDs, id and map_version registers, capacities (0: unbounded).")
      .def("settle", &Device::settle, py::call_guard<py::gil_scoped_release>(),
           "Wait until the events of everything submitted can be collected (f1; the others: at once).")
      .def("close", &Device::close, "Release the device (the model, files, mappings); later calls fail.")
      .def(
          "counters",
          [](Device& d) {
            const auto values = d.counters();
            py::dict out;
            for (std::size_t i = 0; i < regs::kCounters.size(); ++i) {
              out[py::str(std::string(regs::kCounters[i].name))] = values[i];
            }
            return out;
          },
          "Every counter of protocol.registers.COUNTERS by name, read from the registers.");

  py::class_<SoftwareDevice, Device, std::shared_ptr<SoftwareDevice>>(
      m, "SoftwareDevice", "The C++ model of the card (SoftwareCard) as a Device.")
      .def(py::init([](std::optional<std::vector<std::string>> symbols, std::optional<py::bytes> session,
                       std::optional<std::uint64_t> first_sequence, const py::object& order_table,
                       const py::object& max_levels, const py::object& max_symbols, bool level_events,
                       std::optional<unsigned> line_window, std::size_t max_rules) {
              if (max_rules < 1 || max_rules > rules::kMaxRules) {
                throw py::value_error("max_rules must be 1 to " + std::to_string(rules::kMaxRules));
              }
              try {
                return std::make_shared<SoftwareDevice>(card_config(std::move(symbols), session, first_sequence,
                                                                    order_table, max_levels, max_symbols, level_events,
                                                                    line_window, max_rules));
              } catch (const std::invalid_argument& e) {
                throw py::value_error(e.what());
              }
           }),
           py::arg("symbols") = py::none(), py::kw_only(), py::arg("session") = py::none(),
           py::arg("first_sequence") = py::none(), py::arg("order_table") = py::none(),
           py::arg("max_levels") = py::none(), py::arg("max_symbols") = py::none(), py::arg("level_events") = false,
           py::arg("line_window") = py::none(), py::arg("max_rules") = 64,
           "As SoftwareCard: symbols to track (None: all), session, first_sequence, capacities (None: "
           "unbounded), level_events, line_window (None: one line; else A/B lines, the window in packets), "
           "max_rules (entries of the rule table).");

  bind_f1(m);
  bind_f2(m);
  bind_sim(m);

}

}  // namespace tickgate::driver
