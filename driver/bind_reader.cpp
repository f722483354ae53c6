// Python access to the native file feeds: tickgate._driver.FileFeed (DMA batches, or events from any Device).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "bindings.hpp"
#include "reader.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

std::unique_ptr<DmaFeed> open(const std::string& path, const py::bytes& session, std::size_t max_payload,
                              std::optional<std::uint16_t> port, bool allow_truncated, std::size_t batch_packets) {
  const std::string s = session;
  if (s.size() != 10) throw py::value_error("session: the 10 bytes of a MoldUDP64 session, space-padded");
  if (batch_packets < 1) throw py::value_error("batch_packets must be at least 1");
  FeedOptions o;
  std::copy(s.begin(), s.end(), o.session.begin());
  o.max_payload = max_payload;
  o.port = port;
  o.allow_truncated = allow_truncated;
  py::gil_scoped_release release;
  return std::make_unique<DmaFeed>(open_packet_feed(path, o), batch_packets);
}

/// The reader's errors as the Python readers raise them: protocol.binaryfile.TruncatedFileError and
/// protocol.pcap.UnsupportedLinkType (their modules imported only when one happens).
void translate(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const TruncatedInput& t) {
    const py::object cls = py::module_::import("tickgate.protocol.binaryfile").attr("TruncatedFileError");
    PyErr_SetObject(cls.ptr(), py::str(t.what()).ptr());
  } catch (const std::system_error& s) {
    PyErr_SetObject(PyExc_OSError, py::make_tuple(s.code().value(), s.what()).ptr());
  } catch (const UnsupportedLink& u) {
    const py::object err = py::module_::import("tickgate.protocol.pcap").attr("_unsupported")(u.linktype());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
  }
}

}  // namespace

void bind_reader(py::module_& m) {
  py::register_exception_translator(&translate);
  py::class_<DmaFeed>(m, "FileFeed",
                      "A BinaryFILE (plain or gzip) or pcap/pcapng capture read natively into MoldUDP64 packets, "
                      "packed as host.feeds.files packs them, in DMA batches (protocol.moldudp64.pack_dma).")
      .def(py::init(&open), py::arg("path"), py::kw_only(), py::arg("session") = py::bytes("TICKGATE01"),
           py::arg("max_payload") = 1400, py::arg("port") = py::none(), py::arg("allow_truncated") = false,
           py::arg("batch_packets") = DmaFeed::kBatchPackets,
           "Open `path`: a capture by its magic (gzip allowed), else a BinaryFILE. `session` (10 bytes) and "
           "`max_payload` number and size a BinaryFILE's packets; `port` keeps a capture's MoldUDP64 to one "
           "UDP port; `allow_truncated` reads a gzip stream cut short up to the cut (else TruncatedFileError).")
      .def_property_readonly("kind",
                             [](const DmaFeed& f) {
                               return dynamic_cast<const PcapFeed*>(&f.feed()) ? "pcap" : "binaryfile";
                             })
      .def(
          "next_batch",
          [](DmaFeed& f) -> py::object {
            std::span<const std::byte> b;
            {
              py::gil_scoped_release release;
              b = f.next_batch();
            }
            if (b.empty()) return py::none();
            return py::make_tuple(py::bytes(reinterpret_cast<const char*>(b.data()), b.size()),
                                  f.batch_packet_count());
          },
          "(DMA batch bytes, packets in it), or None at the end of the file.")
      .def(
          "run",
          [](DmaFeed& f, Device& device, const py::array& out) {
            const auto span = events_of(out);
            py::gil_scoped_release release;
            return f.run(device, span);
          },
          py::arg("device"), py::arg("out"),
          "Feed `device` batches until `out` (an EVENT_DTYPE array) is full of its events or the file is done "
          "and the device drained; how many were written (0: finished).")
      .def(
          "run_to_fd",
          [](DmaFeed& f, Device& device, int fd, std::size_t chunk_events) {
            py::gil_scoped_release release;
            return f.run_to_fd(device, fd, chunk_events);
          },
          py::arg("device"), py::arg("fd"), py::arg("chunk_events") = std::size_t{1} << 16,
          "Run the rest of the file through `device`, appending its events as raw 64-byte records to the open "
          "file descriptor `fd` from its position (-1: dropped), a chunk written on a thread of its own while "
          "the next is made; how many. No Python runs until the end (OSError if a write fails).")
      .def_property_readonly("done", &DmaFeed::done, "Whether the file has been read to its end.")
      .def_property_readonly("packets", &DmaFeed::packets, "Packets handed out so far.")
      .def_property_readonly("refused", &DmaFeed::refused,
                             "Packets longer than the DMA header can say (65535 bytes), left out: packets_oversize.")
      .def(
          "stats",
          [](const DmaFeed& f) {
            py::dict d;
            for (const auto& [k, v] : f.feed().stats()) d[py::str(k)] = v;
            return d;
          },
          "The feed's counters, named as the Python feed's stats() names them.")
      .def("position", [](const DmaFeed& f) { return f.feed().position(); },
           "(bytes of the file consumed, its size), for a progress bar.")
      .def(
          "directory",
          [](const DmaFeed& f) {
            py::dict d;
            const auto& dir = f.feed().directory();
            for (std::size_t i = 0; i < dir.size(); ++i) {
              if (dir[i][0] == '\0') continue;
              std::string s(dir[i].data(), dir[i].size());
              s.erase(s.find_last_not_of(' ') + 1);
              d[py::int_(i)] = s;
            }
            return d;
          },
          "Symbols by stock locate, from the Stock Directory messages read so far.");
}

}  // namespace tickgate::driver
