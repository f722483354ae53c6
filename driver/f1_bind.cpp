// Python access to the f1 backend: layout and image, the slot scan, F1Device, and the fake card of the tests.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_bind.hpp"
#include "f1_device.hpp"
#include "f1_fake.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

FakeFault fault_of(const std::string& name) {
  if (name == "none") return FakeFault::kNone;
  if (name == "gone") return FakeFault::kGone;
  if (name == "eio") return FakeFault::kEio;
  if (name == "timeout") return FakeFault::kTimeout;
  if (name == "stall") return FakeFault::kStall;
  throw py::value_error("fault: one of none, gone, eio, timeout, stall; not " + name);
}

}  // namespace

py::dict slot_dict(const F1Slot& s) {
  py::dict d;
  d["index"] = s.index;
  d["mgmt_address"] = s.mgmt_address;
  d["app_address"] = s.app_address;
  d["app_present"] = s.app_present;
  d["vendor_id"] = s.vendor_id;
  d["device_id"] = s.device_id;
  d["subsystem_vendor_id"] = s.subsystem_vendor_id;
  d["subsystem_id"] = s.subsystem_id;
  d["xdma"] = s.xdma;
  return d;
}

void bind_f1(py::module_& m) {
  py::class_<F1Layout>(m, "F1Layout", "protocol.f1_map as the f1 backend takes it.")
      .def(py::init<>())
      .def_readwrite("mgmt_vendor_id", &F1Layout::mgmt_vendor_id)
      .def_readwrite("mgmt_device_id", &F1Layout::mgmt_device_id)
      .def_readwrite("cleared_device_id", &F1Layout::cleared_device_id)
      .def_readwrite("app_device_delta", &F1Layout::app_device_delta)
      .def_readwrite("ingress_base", &F1Layout::ingress_base)
      .def_readwrite("ingress_size", &F1Layout::ingress_size)
      .def_readwrite("egress_base", &F1Layout::egress_base)
      .def_readwrite("egress_size", &F1Layout::egress_size);

  py::class_<F1Image>(m, "F1Image", "The image expected in the slot: application function IDs, map version.")
      .def(py::init<>())
      .def_readwrite("vendor_id", &F1Image::vendor_id)
      .def_readwrite("device_id", &F1Image::device_id)
      .def_readwrite("subsystem_vendor_id", &F1Image::subsystem_vendor_id)
      .def_readwrite("subsystem_id", &F1Image::subsystem_id)
      .def_readwrite("map_version", &F1Image::map_version)
      .def_readwrite("name", &F1Image::name);

  m.def(
      "f1_scan",
      [](const std::string& sysfs_root, const F1Layout& layout) {
        std::vector<F1Slot> slots;
        {
          py::gil_scoped_release release;
          slots = scan_slots(sysfs_root, layout);
        }
        py::list out;
        for (const F1Slot& s : slots) out.append(slot_dict(s));
        return out;
      },
      py::arg("sysfs_root"), py::arg("layout"), "The F1 slots under a sysfs PCI devices folder, as dicts.");
  m.def(
      "f1_image_mismatch",
      [](const std::string& sysfs_root, const F1Layout& layout, int slot, const F1Image& image) {
        const auto slots = scan_slots(sysfs_root, layout);
        if (slot < 0 || slot >= static_cast<int>(slots.size())) throw py::index_error("no such slot");
        return image_mismatch(slots[static_cast<std::size_t>(slot)], image, layout);
      },
      py::arg("sysfs_root"), py::arg("layout"), py::arg("slot"), py::arg("image"),
      "Why the slot does not hold the image (what to do), or '' if it does.");

  py::class_<PosixIo, std::shared_ptr<PosixIo>>(m, "PosixIo", "The file I/O of the f1 backend (f1_io.hpp).");

  py::class_<F1Device, Device, std::shared_ptr<F1Device>>(m, "F1Device", "The card in an AWS F1 slot.")
      .def(py::init([](const F1Layout& layout, const F1Image& image, const std::string& sysfs_root,
                       const std::string& dev_dir, int slot, double timeout_s, std::shared_ptr<PosixIo> io) {
             F1Options options{sysfs_root, dev_dir, slot,
                               std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000))};
             py::gil_scoped_release release;
             return std::make_shared<F1Device>(layout, image, std::move(options), std::move(io));
           }),
           py::arg("layout"), py::arg("image"), py::kw_only(), py::arg("sysfs_root") = "/sys/bus/pci/devices",
           py::arg("dev_dir") = "/dev", py::arg("slot") = 0, py::arg("timeout_s") = 10.0,
           py::arg("io") = nullptr, "Open a slot (io: None for the real system calls, or a FakeF1Card).")
      .def_property_readonly("slot", [](const F1Device& d) { return slot_dict(d.slot()); })
      .def_property_readonly("h2c_path", &F1Device::h2c_path)
      .def_property_readonly("c2h_path", &F1Device::c2h_path);

  py::class_<FakeF1Card, PosixIo, std::shared_ptr<FakeF1Card>>(
      m, "FakeF1Card", "Test double: one F1 slot's resource0 and XDMA devices served from the software model.")
      .def(py::init([](const std::string& resource0, const std::string& h2c, const std::string& c2h,
                       const F1Layout& layout, std::optional<std::vector<std::string>> symbols,
                       std::optional<py::bytes> session, std::optional<std::uint64_t> first_sequence,
                       const py::object& order_table, const py::object& max_levels, const py::object& max_symbols,
                       bool level_events, std::size_t ingress_capacity, std::size_t egress_capacity,
                       std::size_t max_transfer,
                       std::uint32_t id, std::uint32_t map_version, const std::string& fault,
                       std::size_t fail_after) {
             FakeF1Config c;
             c.resource0 = resource0;
             c.h2c = h2c;
             c.c2h = c2h;
             c.card = card_config(std::move(symbols), session, first_sequence, order_table, max_levels, max_symbols,
                                  level_events);
             c.ingress_base = layout.ingress_base;
             c.ingress_size = layout.ingress_size;
             c.egress_base = layout.egress_base;
             c.egress_size = layout.egress_size;
             c.ingress_capacity = ingress_capacity;
             c.egress_capacity = egress_capacity;
             c.max_transfer = max_transfer;
             c.id = id;
             c.map_version = map_version;
             c.fault = fault_of(fault);
             c.fail_after = fail_after;
             return std::make_shared<FakeF1Card>(std::move(c));
           }),
           py::arg("resource0"), py::arg("h2c"), py::arg("c2h"), py::arg("layout"), py::kw_only(),
           py::arg("symbols") = py::none(), py::arg("session") = py::none(), py::arg("first_sequence") = py::none(),
           py::arg("order_table") = py::none(), py::arg("max_levels") = py::none(), py::arg("max_symbols") = py::none(),
           py::arg("level_events") = false, py::arg("ingress_capacity") = 1 << 16,
           py::arg("egress_capacity") = 1 << 12, py::arg("max_transfer") = 0,
           py::arg("id") = regs::kIdMagic, py::arg("map_version") = regs::kMapVersion, py::arg("fault") = "none",
           py::arg("fail_after") = 0)
      .def(
          "inject",
          [](FakeF1Card& f, const std::string& fault, std::size_t after) { f.inject(fault_of(fault), after); },
           py::arg("fault"), py::arg("after") = 0, "Fault (none, gone, eio, timeout, stall) after `after` transfers.")
      .def("stats", [](const FakeF1Card& f) {
        const FakeF1Stats& s = f.stats();
        py::dict d;
        d["pwrites"] = s.pwrites;
        d["preads"] = s.preads;
        d["short_transfers"] = s.short_transfers;
        d["bytes_in"] = s.bytes_in;
        d["events_out"] = s.events_out;
        d["overruns"] = s.overruns;
        d["overreads"] = s.overreads;
        d["outside_window"] = s.outside_window;
        return d;
      }, "Calls, bytes and host protocol violations seen.");
}

}  // namespace tickgate::driver
