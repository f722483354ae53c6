// Python access to the generated tickgate/protocol.hpp: its tables as the compiler sees them (to check
// them against protocol/*.py), ITCH decoding with the typed accessors, BinaryFILE framing with
// kLengthByType and the MoldUDP64 / DMA header accessors.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "tickgate/protocol.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

using Bytes = std::span<const std::byte>;

/// The bytes of a 1-D contiguous byte buffer; valid while `info` lives.
Bytes bytes_of(const py::buffer_info& info) {
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw py::value_error("expected a contiguous buffer of bytes (bytes, bytearray, memoryview)");
  }
  return {static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size)};
}

py::bytes to_bytes(std::string_view s) { return {s.data(), s.size()}; }

/// A field value as tickgate.protocol.itch.decode gives it: message_type a str, other alpha fields bytes.
template <class V>
py::object to_py(const wire::Field& f, V v) {
  if constexpr (std::is_same_v<V, char>) {
    if (f.offset == 0) return py::str(std::string(1, v));
    return to_bytes(std::string_view(&v, 1));
  } else if constexpr (std::is_same_v<V, std::string_view>) {
    return to_bytes(v);
  } else {
    return py::int_(v);
  }
}

py::list field_list(std::span<const wire::Field> fields) {
  py::list out;
  for (const wire::Field& f : fields) {
    out.append(py::make_tuple(f.name, f.offset, f.width, wire::kind_name(f.kind)));
  }
  return out;
}

/// The type byte of one whole ITCH message of its type's length; ValueError otherwise, as itch.decode.
std::uint8_t check_message(Bytes msg) {
  if (msg.empty()) throw py::value_error("empty ITCH message");
  const std::uint8_t type = wire::read_u8(msg.data());
  const std::size_t length = itch::kLengthByType[type];
  if (length == 0) throw py::value_error("unknown ITCH message type " + std::to_string(type));
  if (msg.size() != length) {
    throw py::value_error("ITCH " + std::string(1, static_cast<char>(type)) + " is " +
                          std::to_string(length) + " bytes, got " + std::to_string(msg.size()));
  }
  return type;
}

/// Any message, field by field through its struct's for_each_field.
py::dict decode(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes msg = bytes_of(info);
  py::dict out;
  itch::visit_type(check_message(msg), [&](auto m) {
    using M = decltype(m);
    M::for_each_field(msg.data(), [&](const wire::Field& f, auto v) { out[py::str(f.name)] = to_py(f, v); });
  });
  return out;
}

template <class M>
py::dict add_order(const std::byte* p) {
  py::dict d;
  d["message_type"] = py::str(std::string(1, M::message_type(p)));
  d["stock_locate"] = M::stock_locate(p);
  d["tracking_number"] = M::tracking_number(p);
  d["timestamp"] = M::timestamp(p);
  d["order_reference_number"] = M::order_reference_number(p);
  const char side = M::buy_sell_indicator(p);
  d["buy_sell_indicator"] = to_bytes(std::string_view(&side, 1));
  d["shares"] = M::shares(p);
  d["stock"] = to_bytes(M::stock(p));
  d["price"] = M::price(p);
  if constexpr (std::is_same_v<M, itch::AddOrderMpid>) d["attribution"] = to_bytes(M::attribution(p));
  return d;
}

/// An Add Order (A) or Add Order with MPID (F), read with the named accessors.
py::dict decode_add_order(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes msg = bytes_of(info);
  switch (check_message(msg)) {
    case itch::AddOrder::kType: return add_order<itch::AddOrder>(msg.data());
    case itch::AddOrderMpid::kType: return add_order<itch::AddOrderMpid>(msg.data());
    default: throw py::value_error("not an Add Order (A or F)");
  }
}

/// Walks BinaryFILE framing (a 2-byte big-endian length, as before a MoldUDP64 block, then the message),
/// calling fn(message) for each whole one, up to the zero-length end-of-session marker. Returns the
/// number of bytes left over after the last whole message (0 at a clean end or at the marker).
template <class Fn>
std::size_t frame(Bytes s, Fn&& fn) {
  std::size_t pos = 0;
  while (pos + mold::kBlockLength <= s.size()) {
    const std::size_t length = wire::read_u16(s.data() + pos);
    if (length == 0) return 0;
    if (length > s.size() - pos - mold::kBlockLength) break;
    fn(s.subspan(pos + mold::kBlockLength, length));
    pos += mold::kBlockLength + length;
  }
  return s.size() - pos;
}

/// kLengthByType of each whole message's type byte (0: not an ITCH 5.0 type).
std::vector<std::uint8_t> frame_lengths(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes s = bytes_of(info);
  std::vector<std::uint8_t> out;
  {
    py::gil_scoped_release release;
    frame(s, [&](Bytes m) { out.push_back(itch::kLengthByType[wire::read_u8(m.data())]); });
  }
  return out;
}

/// Where each whole message of a BinaryFILE buffer starts (the offset of its 2-byte length), as an int64 array,
/// with the bytes framed so far and whether the zero-length end-of-session marker was reached: a file read in
/// chunks goes on from `consumed` (a message cut by the chunk's end is in the next one).
py::tuple frame_offsets(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes s = bytes_of(info);
  std::vector<std::int64_t> starts;
  std::size_t pos = 0;
  bool ended = false;
  {
    py::gil_scoped_release release;
    starts.reserve(s.size() / 24);
    while (pos + mold::kBlockLength <= s.size()) {
      const std::size_t length = wire::read_u16(s.data() + pos);
      if (length == 0) {
        ended = true;
        break;
      }
      if (length > s.size() - pos - mold::kBlockLength) break;
      starts.push_back(static_cast<std::int64_t>(pos));
      pos += mold::kBlockLength + length;
    }
  }
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(starts.size()));
  std::copy(starts.begin(), starts.end(), out.mutable_data());
  return py::make_tuple(out, pos, ended);
}

/// The framing and decode counters of a BinaryFILE buffer, named as in the register map.
py::dict frame_counts(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes s = bytes_of(info);
  std::array<std::uint64_t, 256> by_type{};
  std::uint64_t messages = 0, unknown = 0, bad_length = 0;
  std::size_t left = 0;
  {
    py::gil_scoped_release release;
    left = frame(s, [&](Bytes m) {
      ++messages;
      const std::uint8_t type = wire::read_u8(m.data());
      const std::size_t length = itch::kLengthByType[type];
      if (length == 0) ++unknown;
      else if (m.size() != length) ++bad_length;
      else ++by_type[type];
    });
  }
  py::dict out;
  out["messages"] = messages + (left ? 1 : 0);
  out["msg_truncated"] = left ? 1 : 0;
  out["msg_bad_length"] = bad_length;
  out["msg_unknown_type"] = unknown;
  for (const itch::Message& m : itch::kMessages) {
    out[py::str("type_" + std::string(1, m.type))] = by_type[static_cast<unsigned char>(m.type)];
  }
  return out;
}

py::tuple parse_mold_header(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes s = bytes_of(info);
  if (s.size() < mold::Header::kLength) throw py::value_error("shorter than a MoldUDP64 header");
  return py::make_tuple(to_bytes(mold::Header::session(s.data())), mold::Header::sequence_number(s.data()),
                        mold::Header::message_count(s.data()));
}

py::tuple parse_dma_header(const py::buffer& buf) {
  const py::buffer_info info = buf.request();
  const Bytes s = bytes_of(info);
  if (s.size() < mold::DmaHeader::kLength) throw py::value_error("shorter than a DMA header");
  return py::make_tuple(mold::DmaHeader::length(s.data()), mold::DmaHeader::rx_time_ns(s.data()),
                        mold::DmaHeader::flags(s.data()));
}

py::dict layout_dict(std::span<const events::FieldLayout> fields) {
  py::dict out;
  for (const auto& f : fields) out[py::str(f.name)] = py::make_tuple(f.offset, f.size);
  return out;
}

}  // namespace

void bind_protocol(py::module_& m) {
  // ITCH 5.0
  m.def("itch_messages", [] {
    py::dict out;
    for (const auto& msg : itch::kMessages) {
      out[py::str(std::string(1, msg.type))] = py::make_tuple(msg.name, msg.length, msg.book);
    }
    return out;
  }, "{type: (name, length, book)} of every ITCH message type, from itch::kMessages");
  m.def("itch_lengths", [] {
    py::dict out;
    for (const auto& msg : itch::kMessages) out[py::str(std::string(1, msg.type))] = msg.length;
    return out;
  }, "{type: length} from itch::kMessages");
  m.def("itch_length_by_type",
        [] { return std::vector<int>(itch::kLengthByType.begin(), itch::kLengthByType.end()); },
        "itch::kLengthByType: 256 lengths by type byte, 0 for unknown types");
  m.def("itch_fields", [] {
    py::dict out;
    for (const auto& msg : itch::kMessages) out[py::str(std::string(1, msg.type))] = field_list(msg.fields);
    return out;
  }, "{type: [(name, offset, width, kind), ...]} from each message struct's kFields");
  m.def("decode", &decode, py::arg("msg"), "Decode any ITCH message with the generated accessors");
  m.def("decode_add_order", &decode_add_order, py::arg("msg"),
        "Decode an A or F message with its named accessors");
  m.def("frame_lengths", &frame_lengths, py::arg("buf"),
        "kLengthByType of each whole message of a BinaryFILE buffer (0: unknown type)");
  m.def("frame_offsets", &frame_offsets, py::arg("buf"),
        "(int64 offsets of each whole message's length prefix, bytes framed, end-of-session marker reached) of a "
        "BinaryFILE buffer");
  m.def("frame_counts", &frame_counts, py::arg("buf"), "Framing and decode counters of a BinaryFILE buffer");
  // MoldUDP64 and DMA
  m.def("mold_layout", [] {
    py::dict out;
    out["HEADER"] = field_list(mold::Header::kFields);
    out["DMA_HEADER"] = field_list(mold::DmaHeader::kFields);
    out["HEADER_LEN"] = mold::kHeaderLength;
    out["BLOCK_LEN"] = mold::kBlockLength;
    out["END_OF_SESSION"] = mold::kEndOfSession;
    out["MAX_PAYLOAD"] = mold::kMaxPayload;
    out["DMA_ALIGN"] = mold::kDmaAlign;
    out["DMA_HEADER_LEN"] = mold::DmaHeader::kLength;
    return out;
  }, "The mold:: layouts and constants, keyed by their names in protocol/moldudp64.py");
  m.def("parse_mold_header", &parse_mold_header, py::arg("packet"),
        "(session, sequence_number, message_count) of a MoldUDP64 packet, by the mold::Header accessors");
  m.def("parse_dma_header", &parse_dma_header, py::arg("buf"),
        "(length, rx_time_ns, flags) of a DMA header, by the mold::DmaHeader accessors");
  // Book events
  m.def("event_record", [] { return py::make_tuple(sizeof(events::Event), alignof(events::Event)); },
        "(sizeof, alignof) of events::Event");
  m.def("event_layout", [] { return layout_dict(events::kEventLayout); },
        "{field: (offset, size)} of events::Event, by offsetof and sizeof");
  m.def("event_kind_layouts", [] {
    py::dict out;
    for (const auto& k : events::kKindLayouts) {
      out[py::str(k.name)] = py::make_tuple(static_cast<int>(k.kind), layout_dict(k.fields));
    }
    return out;
  }, "{kind name: (kind value, {field: (offset, size)})} of each per-kind view");
  m.def("event_enums", [] {
    py::dict out;
    for (const auto& e : events::kEnums) {
      py::dict members;
      for (const auto& member : e.members) members[py::str(member.name)] = member.value;
      out[py::str(e.name)] = members;
    }
    return out;
  }, "{enum: {member: value}} of the events:: enums");
  // Register map
  m.def("map_version", [] { return regs::kMapVersion; }, "regs::kMapVersion");
  m.def("register_constants", [] {
    py::dict out;
    out["MAP_VERSION"] = regs::kMapVersion;
    out["ID_MAGIC"] = regs::kIdMagic;
    out["COUNTER_BASE"] = regs::kCounterBase;
    out["MAP_SIZE"] = regs::kMapSize;
    out["COUNTER_COUNT"] = regs::kCounterCount;
    return out;
  }, "The regs:: constants, keyed by their names in protocol/registers.py");
  m.def("register_offsets", [] {
    py::dict out;
    for (const auto& r : regs::kRegisters) out[py::str(r.name)] = r.offset;
    return out;
  }, "{register: byte offset} from regs::kRegisters");
  m.def("registers", [] {
    py::list out;
    for (const auto& r : regs::kRegisters) {
      const char* access = r.access == regs::Access::kRw ? "rw" : "ro";
      out.append(py::make_tuple(r.name, r.offset, r.width, access, r.group));
    }
    return out;
  }, "[(name, offset, width, access, group)] from regs::kRegisters, in offset order");
  m.def("counters", [] {
    py::list out;
    for (const auto& c : regs::kCounters) out.append(py::make_tuple(c.name, c.offset));
    return out;
  }, "[(name, offset)] from regs::kCounters, in index order");
}

}  // namespace tickgate::driver
