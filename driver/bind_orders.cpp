// Python access to the native order path (order_path.hpp): OrderPath, its SoupWriter, ORDER_REASONS.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "order_path.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

using orders::Limits;
using orders::OrderPath;
using orders::SoupWriter;

/// Limits from a host.risk.RiskLimits (or anything with its attributes); max_loss stays with the host.
Limits limits_from(const py::handle& obj) {
  Limits l;
  const auto get = [&](const char* name) { return obj.attr(name).cast<double>(); };
  const auto text = [&](const char* name) { return py::str(obj.attr(name)).cast<std::string>(); };
  l.max_order_shares = get("max_order_shares");
  l.max_notional = get("max_notional");
  l.max_position = get("max_position");
  l.max_total_position = get("max_total_position");
  l.price_band_bps = get("price_band_bps");
  l.max_orders_per_s = get("max_orders_per_s");
  l.max_rejects_per_s = get("max_rejects_per_s");
  l.max_position_text = text("max_position");
  l.max_total_position_text = text("max_total_position");
  l.max_rejects_per_s_text = text("max_rejects_per_s");
  return l;
}

/// One character of a 1-character str; -1 (with a TypeError set) otherwise.
int fast_char(PyObject* o) {
  if (!PyUnicode_Check(o) || PyUnicode_GET_LENGTH(o) != 1) {
    PyErr_SetString(PyExc_TypeError, "side and tif are 1-character strings");
    return -1;
  }
  const Py_UCS4 c = PyUnicode_READ_CHAR(o, 0);
  if (c > 0x7F) {
    PyErr_SetString(PyExc_ValueError, "side and tif are ASCII");
    return -1;
  }
  return static_cast<int>(c);
}

/// OrderPath.enter as a METH_FASTCALL function (pybind11's dispatch costs more than the order does): self is
/// a capsule of the OrderPath that holds a reference to its Python object.
PyObject* fast_enter(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError, "enter(locate, side, shares, price, tif, active)");
    return nullptr;
  }
  auto* path = static_cast<OrderPath*>(PyCapsule_GetPointer(self, "tickgate.OrderPath"));
  if (path == nullptr) return nullptr;
  const long locate = PyLong_AsLong(args[0]);
  const int side = fast_char(args[1]);
  const long long shares = PyLong_AsLongLong(args[2]);
  const long long price = PyLong_AsLongLong(args[3]);
  const int tif = fast_char(args[4]);
  const int active = PyObject_IsTrue(args[5]);
  if (PyErr_Occurred()) return nullptr;
  if (locate < 0 || locate > 0xFFFF) {
    PyErr_SetString(PyExc_ValueError, "locate is 0 to 65535");
    return nullptr;
  }
  try {
    return PyLong_FromLongLong(path->enter(static_cast<std::uint16_t>(locate), static_cast<char>(side), shares,
                                           price, static_cast<char>(tif), active != 0));
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
    return nullptr;
  }
}

PyMethodDef fast_enter_def{"enter", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_enter)),
                           METH_FASTCALL, "enter(locate, side, shares, price, tif, active): OrderPath.enter, fast."};

char one_char(const std::string& s, const char* what) {
  if (s.size() != 1) throw py::value_error(std::string(what) + " must be one character, not '" + s + "'");
  return s[0];
}

}  // namespace

void bind_orders(py::module_& m) {
  py::tuple reasons(orders::kReasonText.size());
  for (std::size_t i = 0; i < orders::kReasonText.size(); ++i) reasons[i] = py::str(std::string(orders::kReasonText[i]));
  m.attr("ORDER_REASONS") = reasons;

  py::class_<SoupWriter>(m, "SoupWriter",
                         "Ordered writes of whole SoupBinTCP packets on a non-blocking socket it does not own.")
      .def(py::init<>())
      .def("attach", &SoupWriter::attach, py::arg("fd"), "A new connection's socket (what was queued is dropped).")
      .def("detach", &SoupWriter::detach)
      .def_property_readonly("fd", &SoupWriter::fd)
      .def("write", [](SoupWriter& w, py::buffer b) {
             const auto info = b.request();
             return w.write(bytes_of(info));
           }, py::arg("packet"), "Write (or queue the rest of) one packet; False if the link is gone.")
      .def("flush", &SoupWriter::flush, "Write what is queued; False if the link is gone.")
      .def_property_readonly("pending", &SoupWriter::pending)
      .def_property_readonly("last_errno", [](const SoupWriter& w) { return w.last_errno; })
      .def("counters", [](const SoupWriter& w) {
        py::dict d;
        d["packets"] = w.packets;
        d["bytes"] = w.bytes;
        d["partial_writes"] = w.partial_writes;
        d["would_block"] = w.would_block;
        d["errors"] = w.errors;
        return d;
      });

  py::class_<OrderPath>(m, "OrderPath",
                        "Risk, OUCH 5.0 and SoupBinTCP in one call per order (driver/order_path.hpp). Results: a "
                        "token (> 0), or 0 not open, -1 name the locate, -2 rejected by risk, -3 session not "
                        "active, -4 link dropped.")
      .def(py::init([](const py::object& limits, std::uint32_t first_token, const std::string& display,
                       const std::string& capacity, const py::bytes& appendage, std::optional<std::int64_t> time) {
             return OrderPath(limits_from(limits), first_token,
                              {one_char(display, "display"), one_char(capacity, "capacity"), std::string(appendage)},
                              time);
           }),
           py::arg("limits"), py::arg("first_token") = 1, py::arg("display") = "Y", py::arg("capacity") = "A",
           py::arg("appendage") = py::bytes(), py::arg("time") = py::none())
      .def_property_readonly("writer", &OrderPath::writer, py::return_value_policy::reference_internal)
      .def("set_limits", [](OrderPath& p, const py::object& limits) { p.risk().set_limits(limits_from(limits)); })
      .def("fill_bucket", [](OrderPath& p) { p.risk().fill_bucket(p.now()); },
           "The order-rate bucket full, as a new host.risk.Risk starts it.")
      .def("set_time", &OrderPath::set_time, py::arg("time"), "Risk's clock: a fixed time in ns, or None (monotonic).")
      .def("now", &OrderPath::now)
      .def("see_events", [](OrderPath& p, py::buffer b) {
             const auto info = b.request();
             if (info.ndim != 1 || info.itemsize != 64 || info.strides[0] != 64) {
               throw py::value_error("see_events: a contiguous 1-D array of 64-byte event records");
             }
             p.see_events({static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size) * 64});
           }, py::arg("records"))
      .def_property("active", &OrderPath::active, &OrderPath::set_active,
                    "Whether the session takes orders now: fired orders are sent only then (the host sets it).")
      .def("take_fires", [](OrderPath& p) {
             const auto fires = p.take_fires();
             py::list out(fires.size());
             for (std::size_t i = 0; i < fires.size(); ++i) {
               const auto& f = fires[i];
               out[i] = py::make_tuple(f.rule, f.tag, f.token, f.result, f.reason, f.seq, f.locate,
                                       std::string(1, f.side), f.shares, f.price, std::string(1, f.tif), f.rx_ns,
                                       f.send_ns, f.left);
             }
             return out;
           },
           "What became of the fires since the last call: (rule, tag, token, result, reason, seq, locate, side, "
           "shares, price, tif, rx_ns, send_ns, left); result a token (sent) or -2 refused by risk (reason: an "
           "ORDER_REASONS index), -3 session not active, -4 link dropped.")
      .def_property_readonly("fires_waiting", &OrderPath::fires_waiting)
      .def("on_events", [](OrderPath& p, py::buffer b) {
             const auto info = b.request();
             if (info.ndim != 1 || info.itemsize != 64 || info.strides[0] != 64) {
               throw py::value_error("on_events: a contiguous 1-D array of 64-byte event records");
             }
             p.on_events({static_cast<const events::Event*>(info.ptr), static_cast<std::size_t>(info.size)});
           }, py::arg("records"),
           "As a device's tap: the mids of BBO events and the orders of FIRE events (for a device without one).")
      .def("mid", &OrderPath::mid, py::arg("locate"))
      .def("set_symbol", &OrderPath::set_symbol, py::arg("locate"), py::arg("name"))
      .def("named", &OrderPath::named, py::arg("locate"))
      .def("symbol", [](const OrderPath& p, std::uint16_t loc) { return std::string(p.symbol(loc)); })
      .def("enter", [](OrderPath& p, std::uint16_t locate, char side, std::int64_t shares, std::int64_t price,
                       char tif, bool active) { return p.enter(locate, side, shares, price, tif, active); },
           py::arg("locate"), py::arg("side"), py::arg("shares"), py::arg("price"), py::arg("tif"),
           py::arg("active"))
      .def_property_readonly("fast_enter", [](py::object self) {
             auto* path = &self.cast<OrderPath&>();
             PyObject* capsule = PyCapsule_New(path, "tickgate.OrderPath", [](PyObject* c) {
               Py_XDECREF(static_cast<PyObject*>(PyCapsule_GetContext(c)));
             });
             if (capsule == nullptr) throw py::error_already_set();
             PyCapsule_SetContext(capsule, self.inc_ref().ptr());  // the path lives as long as the function
             PyObject* fn = PyCFunction_New(&fast_enter_def, capsule);
             Py_DECREF(capsule);
             if (fn == nullptr) throw py::error_already_set();
             return py::reinterpret_steal<py::object>(fn);
           }, "`enter` as a function with less call overhead (for the router's hot path).")
      .def("reject_unknown", &OrderPath::reject_unknown)
      .def("cancel", &OrderPath::cancel, py::arg("token"), py::arg("shares"), py::arg("active"))
      .def("replace", &OrderPath::replace, py::arg("token"), py::arg("shares"), py::arg("price"), py::arg("tif"),
           py::arg("active"))
      .def_property_readonly("next_token", &OrderPath::next_token)
      .def_property_readonly("last_token", &OrderPath::last_token)
      .def_property_readonly("last_reason", &OrderPath::last_reason)
      .def_property_readonly("last_send_ns", &OrderPath::last_send_ns)
      .def("order", &OrderPath::order, py::arg("token"), "(locate, side) of a token decided here, or None.")
      .def("counters", [](const OrderPath& p) {
        py::dict d;
        d["entered"] = p.entered;
        d["cancels_sent"] = p.cancels_sent;
        d["replaces_sent"] = p.replaces_sent;
        d["not_sent"] = p.not_sent;
        d["fires_seen"] = p.fires_seen;
        d["fires_sent"] = p.fires_sent;
        d["fires_refused"] = p.fires_refused;
        return d;
      })
      // risk
      .def("kill", [](OrderPath& p, const std::string& reason) { return p.risk().kill(reason, p.now()); })
      .def("reset_kill", [](OrderPath& p) { p.risk().reset_kill(); })
      .def_property_readonly("killed", [](OrderPath& p) { return p.risk().killed(); })
      .def("on_update", [](OrderPath& p, int kind, std::uint32_t token, std::uint16_t locate, char side,
                           std::int64_t shares, std::int64_t price) {
             if (kind < 0 || kind > 3) throw py::value_error("update kind: 0 accepted, 1 rejected, 2 executed, 3 canceled");
             return p.risk().on_update(static_cast<orders::UpdateKind>(kind), token, locate, p.symbol(locate), side,
                                       shares, price, p.now());
           }, py::arg("kind"), py::arg("token"), py::arg("locate"), py::arg("side"), py::arg("shares"),
           py::arg("price"), "Apply an order update; the kill reason if it threw the switch, else ''.")
      .def("is_open", [](OrderPath& p, std::uint32_t token) { return p.risk().open().contains(token); })
      .def("open_count", [](OrderPath& p) { return p.risk().open().size(); })
      .def("open_orders", [](OrderPath& p) {
        std::vector<std::tuple<std::uint32_t, std::uint16_t, char, std::int64_t, std::int64_t>> out;
        out.reserve(p.risk().open().size());
        for (const auto& [token, o] : p.risk().open()) out.emplace_back(token, o.locate, o.side, o.shares, o.price);
        return out;
      }, "(token, locate, side, open shares, price) of each open order, in token order.")
      .def("open_order", [](OrderPath& p, std::uint32_t token)
               -> std::optional<std::tuple<std::uint16_t, char, std::int64_t, std::int64_t>> {
             const auto it = p.risk().open().find(token);
             if (it == p.risk().open().end()) return std::nullopt;
             return std::tuple{it->second.locate, it->second.side, it->second.shares, it->second.price};
           }, py::arg("token"))
      .def("position", [](OrderPath& p, std::uint16_t loc) { return p.risk().position(loc); }, py::arg("locate"))
      .def("positions", [](OrderPath& p) {
        std::vector<std::tuple<std::uint16_t, std::int64_t, std::int64_t>> out;
        for (const std::uint16_t loc : p.risk().held()) out.emplace_back(loc, p.risk().position(loc), p.risk().cash(loc));
        return out;
      }, "(locate, position, cash) of every locate ever filled, in the order of its first fill.")
      .def_property_readonly("held", [](OrderPath& p) { return p.risk().held().size(); })
      .def_property_readonly("gross_position", [](OrderPath& p) { return p.risk().gross_position(); })
      .def_property_readonly("open_shares", [](OrderPath& p) { return p.risk().open_shares(); })
      .def_property_readonly("fills", [](OrderPath& p) { return p.risk().fills(); })
      .def_property_readonly("filled_shares", [](OrderPath& p) { return p.risk().filled_shares(); })
      .def("rejects", [](OrderPath& p) {
        const auto& r = p.risk().rejects();
        return std::vector<std::int64_t>(r.begin(), r.end());
      }, "Risk rejections by reason (ORDER_REASONS order).");
}

}  // namespace tickgate::driver
