// Python access to the f2 backend: the slot scan with the F2 rule, F2Device, and the fake card of the tests.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_bind.hpp"
#include "f2_device.hpp"
#include "f2_fake.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

FakeF2Fault fault_of(const std::string& name) {
  if (name == "none") return FakeF2Fault::kNone;
  if (name == "gone") return FakeF2Fault::kGone;
  if (name == "stall") return FakeF2Fault::kStall;
  if (name == "mute") return FakeF2Fault::kMute;
  if (name == "backwards") return FakeF2Fault::kBackwards;
  if (name == "jump") return FakeF2Fault::kJump;
  throw py::value_error("fault: one of none, gone, stall, mute, backwards, jump; not " + name);
}

}  // namespace

void bind_f2(py::module_& m) {
  m.def(
      "f2_scan",
      [](const std::string& sysfs_root) {
        std::vector<F1Slot> slots;
        {
          py::gil_scoped_release release;
          slots = scan_slots(sysfs_root, F2Device::layout());
        }
        py::list out;
        for (const F1Slot& s : slots) out.append(slot_dict(s));
        return out;
      },
      py::arg("sysfs_root"), "The F2 slots under a sysfs PCI devices folder, as dicts (xdma is always -1).");
  m.def(
      "f2_image_mismatch",
      [](const std::string& sysfs_root, int slot, const F1Image& image) {
        const auto slots = scan_slots(sysfs_root, F2Device::layout());
        if (slot < 0 || slot >= static_cast<int>(slots.size())) throw py::index_error("no such slot");
        return image_mismatch(slots[static_cast<std::size_t>(slot)], image, F2Device::layout());
      },
      py::arg("sysfs_root"), py::arg("slot"), py::arg("image"),
      "Why the F2 slot does not hold the image (what to do), or '' if it does.");

  m.attr("F2_AUTO_RING_LOG2") = F2Options::kAutoRingLog2;  // the ring F2Device tries first when ring_log2 is 0
  m.def(
      "f2_pin_ring_check",
      [](unsigned ring_log2) {
        if (ring_log2 < f2::kRingMinLog2 || ring_log2 > f2::kRingMaxLog2) throw py::value_error("ring_log2 out of range");
        SystemF2Io io;
        HostRing ring = io.pin_ring((std::size_t{1} << ring_log2) * f2::kRecordBytes);
        py::dict r;
        r["bytes"] = ring.ring_bytes;
        r["ring_bus"] = ring.ring_bus;
        r["head_bus"] = ring.head_bus;
        r["how"] = ring.how;
        io.unpin_ring(ring);
        return r;
      },
      py::arg("ring_log2"),
      "Pin a ring of 2**ring_log2 records as the f2 backend would on this machine and give it back: its bytes, bus "
      "addresses and where its memory came from; DeviceIOError naming the privilege or setting missing.");

  py::class_<F2Io, PosixIo, std::shared_ptr<F2Io>>(m, "F2Io", "The system as the f2 backend uses it (f2_io.hpp).");

  py::class_<F2Device, Device, std::shared_ptr<F2Device>>(m, "F2Device", "The card in an AWS F2 slot.")
      .def(py::init([](const F1Image& image, const std::string& sysfs_root, int slot, double timeout_s,
                       unsigned ring_log2, std::shared_ptr<F2Io> io) {
             F2Options options{sysfs_root, slot, std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000)),
                               ring_log2};
             py::gil_scoped_release release;
             return std::make_shared<F2Device>(image, std::move(options), std::move(io));
           }),
           py::arg("image"), py::kw_only(), py::arg("sysfs_root") = "/sys/bus/pci/devices", py::arg("slot") = 0,
           py::arg("timeout_s") = 10.0, py::arg("ring_log2") = 0, py::arg("io") = nullptr,
           "Open a slot (io: None for the real system, or a FakeF2Card; ring_log2 0: 2**15 records if a hugepage "
           "can be had, else 2**6). Needs root on a real card: f2_io.hpp.")
      .def_property_readonly("slot", [](const F2Device& d) { return slot_dict(d.slot()); })
      .def_property_readonly("window_path", &F2Device::window_path)
      .def_property_readonly("ring", [](const F2Device& d) {
        py::dict r;
        r["records"] = d.ring_records();
        r["bytes"] = d.ring().ring_bytes;
        r["ring_bus"] = d.ring().ring_bus;
        r["head_bus"] = d.ring().head_bus;
        r["how"] = d.ring().how;
        return r;
      }, "The host event ring: records, bytes, bus addresses given to the card, where its memory came from.");

  py::class_<FakeF2Card, F2Io, std::shared_ptr<FakeF2Card>>(
      m, "FakeF2Card", "Test double: one F2 slot's BARs and host event ring, the card played by the software model.")
      .def(py::init([](const std::string& resource0, const std::string& window, std::optional<std::vector<std::string>> symbols,
                       std::optional<py::bytes> session, std::optional<std::uint64_t> first_sequence,
                       const py::object& order_table, const py::object& max_levels, const py::object& max_symbols,
                       bool level_events, std::size_t ingress_capacity, std::size_t egress_capacity,
                       std::uint32_t id, std::uint32_t map_version, const std::string& fault, std::size_t fail_after) {
             FakeF2Config c;
             c.resource0 = resource0;
             c.window = window;
             c.card = card_config(std::move(symbols), session, first_sequence, order_table, max_levels, max_symbols,
                                  level_events);
             c.ingress_capacity = ingress_capacity;
             c.egress_capacity = egress_capacity;
             c.id = id;
             c.map_version = map_version;
             c.fault = fault_of(fault);
             c.fail_after = fail_after;
             return std::make_shared<FakeF2Card>(std::move(c));
           }),
           py::arg("resource0"), py::arg("window"), py::kw_only(), py::arg("symbols") = py::none(),
           py::arg("session") = py::none(), py::arg("first_sequence") = py::none(),
           py::arg("order_table") = py::none(), py::arg("max_levels") = py::none(), py::arg("max_symbols") = py::none(),
           py::arg("level_events") = false, py::arg("ingress_capacity") = 1 << 16,
           py::arg("egress_capacity") = 1 << 12, py::arg("id") = regs::kIdMagic,
           py::arg("map_version") = regs::kMapVersion, py::arg("fault") = "none", py::arg("fail_after") = 0)
      .def(
          "inject", [](FakeF2Card& f, const std::string& fault, std::size_t after) { f.inject(fault_of(fault), after); },
          py::arg("fault"), py::arg("after") = 0,
          "Fault (none, gone, stall, mute, backwards, jump) after `after` more fences + pauses.")
      .def_property_readonly("producer", &FakeF2Card::producer)
      .def("stats", [](const FakeF2Card& f) {
        const FakeF2Stats& s = f.stats();
        py::dict d;
        d["fences"] = s.fences;
        d["pauses"] = s.pauses;
        d["bytes_in"] = s.bytes_in;
        d["records_written"] = s.records_written;
        d["head_writes"] = s.head_writes;
        d["wraps"] = s.wraps;
        d["overruns"] = s.overruns;
        d["bad_addresses"] = s.bad_addresses;
        d["late_writes"] = s.late_writes;
        return d;
      }, "What the fake saw and did, host protocol violations included.");
}

}  // namespace tickgate::driver
