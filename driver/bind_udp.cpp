// Python access to the native live feed (UdpReceiver, attached to a Device or a SoftwareCard) and the paced
// sender of the benchmarks.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "device.hpp"
#include "software_card.hpp"
#include "udp_receiver.hpp"
#include "udp_sender.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

std::uint64_t seconds_ns(double s, const char* name) {
  if (!(s >= 0) || !std::isfinite(s)) throw py::value_error(std::string(name) + " must be a finite number >= 0");
  return static_cast<std::uint64_t>(s * 1e9);
}

/// The receiver and where its batches go: a Device (submit, collect) or a SoftwareCard (feed_dma, take_events).
class Receiver {
 public:
  explicit Receiver(UdpReceiverConfig config) : rx_(std::move(config)) {}

  void attach(const py::object& target) {
    if (py::isinstance<Device>(target)) {
      device_ = target.cast<std::shared_ptr<Device>>();
      card_ = nullptr;
    } else if (py::isinstance<SoftwareCard>(target)) {
      card_ = &target.cast<SoftwareCard&>();
      device_.reset();
    } else {
      throw py::type_error("attach: a tickgate._driver.Device or SoftwareCard");
    }
    target_ = target;
  }

  /// One receive step; its packets submitted to the attached target, events collected into `out`.
  std::size_t receive_into(const py::array& out, double timeout_s) {
    const auto span = events_of(out);
    const std::uint64_t timeout = seconds_ns(timeout_s, "timeout_s");
    check_attached();
    py::gil_scoped_release release;
    if (rx_.receive(timeout)) {
      if (device_) {
        device_->submit(rx_.batch());
      } else {
        card_->feed_dma(rx_.batch());
      }
    }
    return device_ ? device_->take(span) : card_->take_events(span);
  }

  std::size_t collect(const py::array& out) {
    const auto span = events_of(out);
    check_attached();
    return device_ ? device_->take(span) : card_->take_events(span);
  }

  /// One receive step; its packets as a DMA batch (bytes, pack_dma's layout).
  py::bytes receive(double timeout_s) {
    const std::uint64_t timeout = seconds_ns(timeout_s, "timeout_s");
    {
      py::gil_scoped_release release;
      rx_.receive(timeout);
    }
    const auto b = rx_.batch();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  py::list take_directory() {
    py::list out;
    for (const auto& p : rx_.take_directory()) out.append(py::bytes(reinterpret_cast<const char*>(p.data()), p.size()));
    return out;
  }

  py::dict counters() const {
    py::dict d;
    for (const auto& [name, value] : rx_.counters()) d[py::str(std::string(name))] = value;
    return d;
  }

  UdpReceiver& rx() { return rx_; }

 private:
  void check_attached() const {
    if (!device_ && card_ == nullptr) throw py::value_error("no device attached (attach(device) first)");
  }

  UdpReceiver rx_;
  py::object target_;  // keeps the attached object alive
  std::shared_ptr<Device> device_;
  SoftwareCard* card_ = nullptr;
};

/// A MoldSequencer whose output is recorded, for the differential test against MoldUdpFeed.
class RecordedSequencer final : private SequencerOutput {
 public:
  explicit RecordedSequencer(SequencerConfig config) : seq_(config, *this) {}

  bool accept(const py::bytes& payload, std::uint64_t rx_ns, std::uint64_t now_ns, unsigned line,
              bool retransmitted) {
    if (line > 1) throw py::value_error("line must be 0 (A) or 1 (B)");
    const std::string_view p = payload;
    return seq_.accept({reinterpret_cast<const std::byte*>(p.data()), p.size()}, rx_ns, now_ns, line, retransmitted);
  }
  bool check_timeout(std::uint64_t now_ns) { return seq_.check_timeout(now_ns); }

  /// (packets handed on as (bytes, rx_ns, line), request packets as bytes) since the last take.
  py::tuple take() {
    py::list packets, requests;
    for (auto& [p, rx, line] : packets_) packets.append(py::make_tuple(py::bytes(p), rx, line));
    for (auto& r : requests_) requests.append(py::bytes(r));
    packets_.clear();
    requests_.clear();
    return py::make_tuple(packets, requests);
  }

  py::dict counters() const {
    const SequencerCounters& c = seq_.counters();
    py::dict d;
    d["udp_gaps"] = c.gaps;
    d["udp_rerequests"] = c.rerequests;
    d["udp_rerequest_retries"] = c.rerequest_retries;
    d["udp_gaps_given_up"] = c.gaps_given_up;
    d["udp_messages_given_up"] = c.messages_given_up;
    d["udp_duplicates_dropped"] = c.duplicates_dropped;
    d["udp_wrong_session_passed"] = c.wrong_session_passed;
    d["udp_held_overflow"] = c.held_overflow;
    d["udp_line_holes"] = c.line_holes;
    d["udp_line_holes_filled"] = c.line_holes_filled;
    return d;
  }

 private:
  void packet(std::span<const std::byte> payload, std::uint64_t rx_ns, unsigned line) override {
    packets_.emplace_back(std::string(reinterpret_cast<const char*>(payload.data()), payload.size()), rx_ns, line);
  }
  void request(std::span<const std::byte> r) override {
    requests_.emplace_back(reinterpret_cast<const char*>(r.data()), r.size());
  }

  MoldSequencer seq_;
  std::vector<std::tuple<std::string, std::uint64_t, unsigned>> packets_;
  std::vector<std::string> requests_;
};

std::unique_ptr<Receiver> make_receiver(const std::string& group, int port, const std::string& iface,
                                        std::optional<std::pair<std::string, int>> rerequest, double gap_timeout_s,
                                        unsigned retries, std::uint64_t max_request, std::size_t max_held,
                                        double idle_timeout_s, int rcvbuf, std::size_t batch,
                                        std::size_t max_datagram, double spin_s,
                                        std::optional<std::pair<std::string, int>> line_b) {
  auto port16 = [](int p, const char* what) {
    if (p < 0 || p > 0xFFFF) throw py::value_error(std::string(what) + " must be 0 to 65535, not " + std::to_string(p));
    return static_cast<std::uint16_t>(p);
  };
  UdpReceiverConfig c;
  c.group = group;
  c.port = port16(port, "port");
  c.iface = iface;
  if (rerequest) c.rerequest = std::pair{rerequest->first, port16(rerequest->second, "rerequest port")};
  c.sequencer.gap_timeout_ns = seconds_ns(gap_timeout_s, "gap_timeout_s");
  c.sequencer.retries = retries;
  c.sequencer.max_request = max_request;
  c.sequencer.max_held = max_held;
  c.idle_timeout_ns = seconds_ns(idle_timeout_s, "idle_timeout_s");
  c.rcvbuf = rcvbuf;
  c.batch = batch;
  c.max_datagram = max_datagram;
  c.spin_ns = seconds_ns(spin_s, "spin_s");
  if (line_b) c.line_b = std::pair{line_b->first, port16(line_b->second, "line_b port")};
  try {
    return std::make_unique<Receiver>(std::move(c));
  } catch (const std::system_error& e) {
    const py::tuple args = py::make_tuple(e.code().value(), std::string(e.what()));  // OSError(errno, text)
    PyErr_SetObject(PyExc_OSError, args.ptr());
    throw py::error_already_set();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace

void bind_udp(py::module_& m) {
  py::class_<Receiver>(m, "UdpReceiver",
                       "A live MoldUDP64 feed received natively: recvmmsg batches, kernel receive times "
                       "(SO_TIMESTAMPNS, moved to CLOCK_MONOTONIC), gaps held back and re-requested as "
                       "MoldUdpFeed does, packets handed to an attached Device as DMA batches.")
      .def(py::init(&make_receiver), py::arg("group"), py::arg("port"), py::kw_only(), py::arg("iface") = "0.0.0.0",
           py::arg("rerequest") = py::none(), py::arg("gap_timeout_s") = 0.05, py::arg("retries") = 3,
           py::arg("max_request") = 1000, py::arg("max_held") = 10'000, py::arg("idle_timeout_s") = 5.0,
           py::arg("rcvbuf") = 8 << 20, py::arg("batch") = 64, py::arg("max_datagram") = 65535,
           py::arg("spin_s") = 0.0, py::arg("line_b") = py::none(),
           "Bind to GROUP:PORT (a multicast group is joined on iface); re-requests to rerequest=(host, port); "
           "as MoldUdpFeed, plus batch (datagrams a recvmmsg takes), max_datagram, spin_s (busy-poll before "
           "blocking); line_b=(group, port): line B of the same stream (A/B lines). OSError if a socket cannot "
           "be opened or bound.")
      .def("attach", &Receiver::attach, py::arg("device"),
           "Where packets go: a Device (submit/collect) or a SoftwareCard (feed_dma/take_events).")
      .def("receive_into", &Receiver::receive_into, py::arg("out"), py::arg("timeout_s"),
           "One step (a recvmmsg per socket, waiting up to timeout_s when nothing is queued): the in-order "
           "packets go to the attached device; its events are collected into out (EVENT_DTYPE); how many.")
      .def("collect", &Receiver::collect, py::arg("out"), "Events the attached device still has, into out.")
      .def("receive", &Receiver::receive, py::arg("timeout_s"),
           "One step; its in-order packets as a DMA batch (protocol.moldudp64.pack_dma layout), b'' if none.")
      .def("take_directory", &Receiver::take_directory,
           "The packets handed on since the last call that carry a Stock Directory (R) message.")
      .def_property_readonly("directory_waiting", [](Receiver& r) { return r.rx().directory_waiting(); })
      .def_property_readonly("ended", [](Receiver& r) { return r.rx().ended(); },
                             "The end of session was handed on, or the feed was idle for idle_timeout_s.")
      .def_property_readonly("packets", [](Receiver& r) { return r.rx().packets_out(); },
                             "Packets handed on (in order, to the device or the DMA batches).")
      .def_property_readonly("address", [](Receiver& r) { return r.rx().address(); })
      .def_property_readonly("address_b", [](Receiver& r) { return r.rx().address_b(); })
      .def("counters", &Receiver::counters, "Every counter by name (udp_...).")
      .def("receive_lag_ns", [](Receiver& r, double q) { return r.rx().receive_lag_ns(q); }, py::arg("q"),
           "Kernel receive stamp -> recvmmsg returned, ns, at quantile q of every packet (within 19 %): the "
           "wake-up and kernel share of the latency.")
      .def("close", [](Receiver& r) { r.rx().close(); });

  py::class_<RecordedSequencer>(m, "MoldSequencer",
                                "The receiver's sequencing alone, its output recorded (tests: the same decisions "
                                "as MoldUdpFeed's)")
      .def(py::init([](bool can_request, std::uint64_t gap_timeout_ns, unsigned retries, std::uint64_t max_request,
                       std::size_t max_held, bool two_lines) {
             try {
               return std::make_unique<RecordedSequencer>(
                   SequencerConfig{can_request, gap_timeout_ns, retries, max_request, max_held, two_lines});
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
           }),
           py::kw_only(), py::arg("can_request"), py::arg("gap_timeout_ns"), py::arg("retries"),
           py::arg("max_request"), py::arg("max_held"), py::arg("two_lines") = false)
      .def("accept", &RecordedSequencer::accept, py::arg("payload"), py::arg("rx_ns"), py::arg("now_ns"),
           py::arg("line") = 0, py::arg("retransmitted") = false,
           "Take one packet of line 0 (A) or 1 (B) (retransmitted: a re-request's answer); whether the stream "
           "ended.")
      .def("check_timeout", &RecordedSequencer::check_timeout, py::arg("now_ns"))
      .def("take", &RecordedSequencer::take,
           "(packets handed on [(bytes, rx_ns, line)], requests [bytes]) since last.")
      .def("counters", &RecordedSequencer::counters);

  m.def(
      "udp_send_paced",
      [](const std::vector<py::bytes>& datagrams, const std::string& host, int port, double rate_pps,
         double max_seconds, double quantum_s) {
        std::vector<std::string> owned(datagrams.begin(), datagrams.end());
        std::vector<std::span<const std::byte>> spans;
        spans.reserve(owned.size());
        for (const auto& d : owned) spans.emplace_back(reinterpret_cast<const std::byte*>(d.data()), d.size());
        PacedSendResult r;
        {
          py::gil_scoped_release release;
          r = send_paced(spans, host, static_cast<std::uint16_t>(port), rate_pps, max_seconds,
                         static_cast<std::uint64_t>(quantum_s * 1e9));
        }
        py::dict d;
        d["sent"] = r.sent;
        d["send_errors"] = r.send_errors;
        d["elapsed_ns"] = r.elapsed_ns;
        d["max_behind_ns"] = r.max_behind_ns;
        d["syscalls"] = r.syscalls;
        return d;
      },
      py::arg("datagrams"), py::arg("host"), py::arg("port"), py::arg("rate_pps"), py::arg("max_seconds"),
      py::arg("quantum_s") = 0.0,
      "Send the datagrams to host:port at rate_pps (datagram i at start + i/rate), for at most max_seconds "
      "(benchmarks and tests): sent, send_errors, elapsed_ns, max_behind_ns, syscalls. quantum_s 0: spin "
      "between sends; else sleep to each multiple of quantum_s and send what is due (bursts).");
}

}  // namespace tickgate::driver
