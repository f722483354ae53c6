"""The sections of the generated C++ header, one function per protocol table (see `codegen_cpp`).

Each takes a table module and returns the lines of its namespace: `itch_section`, `mold_section`,
`ouch_section`, `soup_section`, `events_section`, `shm_section`, `f2_section`, `regs_section`, `rules_section`;
`kind_enum` gives the kinds of wire fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum, IntFlag
from types import ModuleType
from typing import Any

import numpy as np

# C++ keywords, and the names the generated structs use for themselves: no table name may be one of these.
_RESERVED = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
while xor xor_eq offsetof Offset Width kFields kLength kType kName kBook kKind for_each_field kInbound kAppendage
""".split())  # noqa: SIM905

_USING_WIRE = ["using wire::Field;", "using wire::Kind;"] + [
    f"using wire::{r};" for r in ("read_u8", "read_u16", "read_u32", "read_u48", "read_u64", "read_le_u16",
                                  "read_le_u32", "read_le_u64", "read_char", "read_alpha")]
_USING_WRITERS = [f"using wire::{w};" for w in ("write_u8", "write_u16", "write_u32", "write_u64", "write_char",
                                                "write_alpha")]
# OUCH and SoupBinTCP field kinds as the wire Kind enum (protocol/itch_spec.py KINDS) names them.
_WIRE_KIND = {"price": "price8"}

_ITCH_TABLES = """\
/// One message type, for iteration over all of them.
struct Message {
  char type;
  std::string_view name;
  std::size_t length;
  bool book;
  std::span<const Field> fields;
};
"""

_LENGTH_BY_TYPE = """\
/// Length of each type byte's message; 0 for a type that is not in ITCH 5.0.
inline constexpr std::array<std::uint8_t, 256> kLengthByType = [] {
  std::array<std::uint8_t, 256> t{};
  for (const Message& m : kMessages) {
    t[static_cast<unsigned char>(m.type)] = static_cast<std::uint8_t>(m.length);
  }
  return t;
}();
"""

_EVENT_TYPES = """\
static_assert(std::endian::native == std::endian::little, "event records are little-endian");

/// One member of an enum of protocol/events.py: its Python name and value.
struct EnumMember {
  std::string_view name;
  std::uint8_t value;
};

/// An enum of protocol/events.py and its members.
struct EnumTable {
  std::string_view name;
  std::span<const EnumMember> members;
};

/// Where the compiler put a record field: name, byte offset, size.
struct FieldLayout {
  std::string_view name;
  std::size_t offset;
  std::size_t size;
};
"""

_EVENT_KINDS = """\
/// One event kind: its enum value, name and field layout.
struct KindLayout {
  EventKind kind;
  std::string_view name;
  std::span<const FieldLayout> fields;
};
"""

_VIEW_AS = """\
/// The same 64 bytes seen through another kind's layout.
template <class To, class From>
constexpr To view_as(const From& e) noexcept {
  static_assert(sizeof(To) == kEventSize && sizeof(From) == kEventSize);
  return std::bit_cast<To>(e);
}
"""

_REG_TYPES = """\
enum class Access : std::uint8_t { kRo, kRw };

/// One register: name, byte offset, width in bits (32 or 64, a 64-bit one low word first), access, group.
struct Register {
  std::string_view name;
  std::uint32_t offset;
  std::uint32_t width;
  Access access;
  std::string_view group;
};

/// One counter: name and byte offset of its 64-bit register.
struct Counter {
  std::string_view name;
  std::uint32_t offset;
};

/// A field of a 32-bit register: bits lo..lo + width - 1 (protocol.registers.Field).
struct Field {
  std::uint32_t lo;
  std::uint32_t width;
  constexpr std::uint32_t mask() const noexcept {
    return static_cast<std::uint32_t>(((std::uint64_t{1} << width) - 1) << lo);
  }
  /// The field's value in `word`.
  constexpr std::uint32_t get(std::uint32_t word) const noexcept { return (word & mask()) >> lo; }
  /// `value` placed in the field (bits past its width dropped).
  constexpr std::uint32_t put(std::uint32_t value) const noexcept { return value << lo & mask(); }
};
"""


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def _ident(name: str) -> str:
    """`name` as a C++ identifier, refusing anything that would not compile or would collide."""
    if not name.isidentifier() or not name.isascii() or name in _RESERVED or name.startswith("_"):
        raise ValueError(f"{name!r} cannot be used as a C++ identifier in the generated header")
    return name


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.lower().split("_"))


def _comment(text: str) -> str:
    return " ".join(text.split()).rstrip("\\")


def _char(c: str) -> str:
    if len(c) != 1 or not c.isascii() or not c.isalnum():
        raise ValueError(f"type byte {c!r} is not a plain ASCII letter or digit")
    return f"'{c}'"


def kind_enum(kinds: Sequence[str]) -> list[str]:
    """The `Kind` enum of wire fields and its names."""
    return ["/// Kind of a wire field (KINDS in protocol/itch_spec.py).",
            "enum class Kind : std::uint8_t { " + ", ".join(f"k{_camel(k)}" for k in kinds) + " };",
            f"inline constexpr std::array<std::string_view, {len(kinds)}> kKindNames{{{{"
            + ", ".join(f'"{k}"' for k in kinds) + "}};"]


def _accessor(f: Any, endian: str) -> tuple[str, str]:
    """C++ return type and read expression of a wire field (`msg` points at the layout's first byte)."""
    at = f"msg + Offset::{f.name}"
    if f.kind == "alpha":
        if f.width == 1:
            return "char", f"read_char({at})"
        return "std::string_view", f"read_alpha({at}, Width::{f.name})"
    if f.kind == "ts" and f.width == 6 and endian == "be":
        return "std::uint64_t", f"read_u48({at})"
    if f.kind == "ts" and f.width == 8 and endian == "be":
        return "std::uint64_t", f"read_u64({at})"
    if f.width not in (1, 2, 4, 8) or f.kind == "ts":
        raise ValueError(f"field {f.name}: no C++ reader for {f.width} bytes of {f.kind} ({endian})")
    bits = 8 * f.width
    reader = f"read_u{bits}" if bits == 8 or endian == "be" else f"read_le_u{bits}"
    return f"std::uint{bits}_t", f"{reader}({at})"


def _writer(f: Any) -> str:
    """The setter of a big-endian wire field: `put_NAME(msg, value)`."""
    at = f"msg + Offset::{f.name}"
    if f.kind == "alpha":
        if f.width == 1:
            return f"  static void put_{f.name}(std::byte* msg, char v) noexcept {{ write_char({at}, v); }}"
        return (f"  static void put_{f.name}(std::byte* msg, std::string_view v) noexcept "
                f"{{ write_alpha({at}, Width::{f.name}, v); }}")
    if f.width not in (1, 2, 4, 8):
        raise ValueError(f"field {f.name}: no C++ writer for {f.width} bytes of {f.kind}")
    bits = 8 * f.width
    return (f"  static void put_{f.name}(std::byte* msg, std::uint{bits}_t v) noexcept "
            f"{{ write_u{bits}({at}, v); }}")


def _layout(name: str, doc: str, fields: Sequence[Any], length: int, endian: str,
            extra: Iterable[str] = (), *, writers: bool = False) -> list[str]:
    """A struct of a wire layout: constants, Offset and Width of each field, kFields and accessors
    (and, with `writers`, a `put_` setter of each field: big-endian layouts only)."""
    names = [_ident(f.name) for f in fields]
    out = [f"/// {_comment(doc)}", f"struct {_ident(name)} {{", *(f"  {e}" for e in extra),
           f"  static constexpr std::size_t kLength = {length};", "  struct Offset {"]
    out += [f"    static constexpr std::size_t {f.name} = {f.offset};" for f in fields]
    out += ["  };", "  struct Width {"]
    out += [f"    static constexpr std::size_t {f.name} = {f.width};" for f in fields]
    out += ["  };", f"  static constexpr std::array<Field, {len(fields)}> kFields{{{{"]
    out += [f'      {{"{n}", Offset::{n}, Width::{n}, Kind::k{_camel(f.kind)}}},'
            for n, f in zip(names, fields, strict=True)]
    out.append("  }};")
    for f in fields:
        ctype, expr = _accessor(f, endian)
        out.append(f"  static {ctype} {f.name}(const std::byte* msg) noexcept {{ return {expr}; }}")
    if writers:
        if endian != "be":
            raise ValueError(f"{name}: writers are for big-endian layouts")
        out += [_writer(f) for f in fields]
    out += ["  /// Calls fn(field, value) for each field in order, the value read by its typed accessor.",
            "  template <class Fn>", "  static void for_each_field(const std::byte* msg, Fn&& fn) {"]
    out += [f"    fn(kFields[{i}], {n}(msg));" for i, n in enumerate(names)]
    out += ["  }", "};", f"static_assert(wire::contiguous({name}::kFields, {name}::kLength));", ""]
    return out


def itch_section(spec: ModuleType) -> list[str]:
    """Namespace tickgate::itch, from protocol/itch_spec.py."""
    msgs = spec.MESSAGES
    out = ["namespace tickgate::itch {", "", *_USING_WIRE, "",
           f"inline constexpr std::size_t kMessageCount = {len(msgs)};",
           f"inline constexpr std::size_t kMaxLength = {spec.MAX_LENGTH};",
           f"inline constexpr std::size_t kMinLength = {spec.MIN_LENGTH};", ""]
    for m in msgs:
        consts = (f"static constexpr char kType = {_char(m.type)};",
                  f'static constexpr std::string_view kName = "{m.name}";',
                  f"static constexpr bool kBook = {'true' if m.book else 'false'};")
        doc = f"ITCH '{m.type}': {m.name}, {m.length} bytes, big-endian."
        out += _layout(m.name, doc, m.fields, m.length, "be", consts)
    out += [*_lines(_ITCH_TABLES), "", "inline constexpr std::array<Message, kMessageCount> kMessages{{"]
    out += [f"    {{{n}::kType, {n}::kName, {n}::kLength, {n}::kBook, {n}::kFields}}," for n in
            (m.name for m in msgs)]
    out += ["}};", "", *_lines(_LENGTH_BY_TYPE), ""]
    out += [f"static_assert(kLengthByType[{_char(m.type)}] == {m.length});" for m in msgs]
    out += ["", "/// Calls fn(M{}) with the struct M of `type` and returns true; false for an unknown type.",
            "template <class Fn>", "constexpr bool visit_type(std::uint8_t type, Fn&& fn) {",
            "  switch (type) {"]
    out += [f"    case {_char(m.type)}: fn({m.name}{{}}); return true;" for m in msgs]
    return [*out, "    default: return false;", "  }", "}", "", "}  // namespace tickgate::itch", ""]


def mold_section(mold: ModuleType) -> list[str]:
    """Namespace tickgate::mold, from protocol/moldudp64.py."""
    out = ["namespace tickgate::mold {", "", *_USING_WIRE, *_USING_WRITERS, "",
           f"inline constexpr std::size_t kHeaderLength = {mold.HEADER_LEN};",
           f"inline constexpr std::size_t kBlockLength = {mold.BLOCK_LEN};  // length before each message",
           f"inline constexpr std::uint16_t kEndOfSession = {mold.END_OF_SESSION:#06x};  // message count",
           f"inline constexpr std::size_t kMaxPayload = {mold.MAX_PAYLOAD};",
           f"inline constexpr std::size_t kMaxPacket = {mold.MAX_PACKET};  // longer: packets_oversize",
           f"inline constexpr std::size_t kDmaAlign = {mold.DMA_ALIGN};  // DMA header + packet padded",
           f"inline constexpr std::size_t kLineBufferBytes = {mold.LINE_BUFFER_BYTES};  // A/B: held per line",
           *(f"inline constexpr std::uint16_t kDma{_camel(f.name.lower())} = {int(f)};  // DmaHeader flags bit"
             for f in mold.DmaFlag),
           ""]
    out += _layout("Header", "MoldUDP64 downstream header, big-endian.", mold.HEADER, mold.HEADER_LEN, "be",
                   writers=True)
    out += _layout("DmaHeader", "Per-packet header of the DMA path, little-endian.", mold.DMA_HEADER,
                   mold.DMA_HEADER_LEN, "le")
    return [*out, "}  // namespace tickgate::mold", ""]


def _wire_fields(fields: Sequence[Any]) -> list[Any]:
    """Fields with their kinds renamed to the wire Kind enum's (OUCH `price` is an 8-byte Price(4))."""
    return [type(f)(f.name, f.offset, f.width, _WIRE_KIND.get(f.kind, f.kind)) for f in fields]


def ouch_section(ouch: ModuleType) -> list[str]:
    """Namespace tickgate::ouch, from protocol/ouch.py: one struct per message, writers on the inbound ones."""
    out = ["namespace tickgate::ouch {", "", *_USING_WIRE, *_USING_WRITERS, "",
           f"inline constexpr std::uint64_t kMaxPrice = {ouch.MAX_PRICE};  // Price(4): the largest limit price", ""]
    for m in ouch.MESSAGES:
        inbound = m.direction == "in"
        consts = (f"static constexpr char kType = {_char(m.type)};",
                  f'static constexpr std::string_view kName = "{m.name}";',
                  f"static constexpr bool kInbound = {'true' if inbound else 'false'};",
                  f"static constexpr bool kAppendage = {'true' if m.appendage else 'false'};")
        doc = (f"OUCH 5.0 {'inbound' if inbound else 'outbound'} '{m.type}': {m.name}, {m.length} bytes"
               f"{' before its optional appendage' if m.appendage else ''}, big-endian.")
        out += _layout(m.name, doc, _wire_fields(m.fields), m.length, "be", consts, writers=inbound)
    option_tags = {name: tag for tag, (name, _, _) in ouch.OPTIONS.items()}
    out += ["/// Tags of the optional appendage's TLV options (each: length 1, tag 1, value).", "namespace option {"]
    out += [f"inline constexpr std::uint8_t {_ident(name)} = {tag};" for name, tag in option_tags.items()]
    out += ["}  // namespace option", ""]
    return [*out, "}  // namespace tickgate::ouch", ""]


def soup_section(soup: ModuleType) -> list[str]:
    """Namespace tickgate::soup, from protocol/soupbintcp.py: the packet header and the packet types."""
    out = ["namespace tickgate::soup {", "", *_USING_WIRE, *_USING_WRITERS, "",
           f"inline constexpr std::size_t kHeaderLength = {soup.HEADER_LEN};",
           f"inline constexpr std::size_t kMaxPacket = {soup.MAX_PACKET:#x};  // the length field's largest value",
           ""]
    out += _layout("Header", "SoupBinTCP packet header: the length counts the type byte and the payload.",
                   _wire_fields(soup.HEADER), soup.HEADER_LEN, "be", writers=True)
    out += ["/// One packet type: type byte, name, sender, whether its payload is free, its length field if fixed.",
            "struct PacketType {", "  char type;", "  std::string_view name;", "  std::string_view direction;",
            "  bool variable;", "  std::uint16_t length_field;  // 0 for variable packets", "};", "",
            "/// The type byte of each packet.", "namespace type {"]
    out += [f"inline constexpr char {_ident(p.name)} = {_char(p.type) if p.type.isalnum() else repr(p.type)};"
            for p in soup.PACKETS]
    out += ["}  // namespace type", "", f"inline constexpr std::array<PacketType, {len(soup.PACKETS)}> kPackets{{{{"]
    out += [f'    {{type::{p.name}, "{p.name}", "{p.direction}", {"true" if p.variable else "false"}, '
            f"{0 if p.variable else p.length_field}}}," for p in soup.PACKETS]
    return [*out, "}};", "", "}  // namespace tickgate::soup", ""]


def _enum(cls: type[IntEnum]) -> list[str]:
    members = list(cls)
    letters = all(0x20 < int(m) < 0x7F and chr(int(m)).isalpha() for m in members)

    def literal(v: int) -> str:
        return f"{v:#04x}" if issubclass(cls, IntFlag) else _char(chr(v)) if letters else str(v)

    name = _ident(cls.__name__)
    out = [f"enum class {name} : std::uint8_t {{"]
    out += [f"  k{_camel(m.name)} = {literal(int(m))}," for m in members]
    out += ["};", f"inline constexpr std::array<EnumMember, {len(members)}> k{name}Members{{{{"]
    out += [f'    {{"{m.name}", static_cast<std::uint8_t>({name}::k{_camel(m.name)})}},' for m in members]
    return [*out, "}};", ""]


def _ctype(name: str, dt: Any) -> tuple[str, str]:
    """C++ type and array suffix of one numpy field: uN -> std::uintN_t, SN -> char[N], VN -> uint8_t[N]."""
    if dt.byteorder == ">" or dt.kind not in "uSV" or (dt.kind == "u" and dt.itemsize not in (1, 2, 4, 8)):
        raise ValueError(f"event field {name}: no C++ type for dtype {dt.str!r}")
    if dt.kind == "u":
        return f"std::uint{8 * dt.itemsize}_t", ""
    return ("char" if dt.kind == "S" else "std::uint8_t"), f"[{dt.itemsize}]"


def _record(name: str, doc: str, dtype: Any, docs: dict[str, str], kind: Any = None) -> list[str]:
    """A struct laid out as the numpy record `dtype` (reserved bytes too), each field's place asserted."""
    fields = sorted(((n, dt, off) for n, (dt, off, *_) in dtype.fields.items()), key=lambda f: f[2])
    out = [f"/// {_comment(doc)}", f"struct alignas({dtype.itemsize}) {name} {{"]
    if kind is not None:
        out.append(f"  static constexpr EventKind kKind = EventKind::k{_camel(kind.name)};")
    for n, dt, off in fields:
        ctype, suffix = _ctype(n, dt)
        out.append(f"  {ctype} {_ident(n)}{suffix};  // {off}: {_comment(docs.get(n, 'reserved, zero'))}")
    out += ["};", f"static_assert(sizeof({name}) == kEventSize && alignof({name}) == kEventSize);",
            f"static_assert(std::is_standard_layout_v<{name}> && std::is_trivially_copyable_v<{name}>);"]
    out += [f"static_assert(offsetof({name}, {n}) == {off} && sizeof({name}::{n}) == {dt.itemsize});"
            for n, dt, off in fields]
    out += [f"inline constexpr std::array<FieldLayout, {len(fields)}> k{name}Layout{{{{"]
    out += [f'    {{"{n}", offsetof({name}, {n}), sizeof({name}::{n})}},' for n, _, _ in fields]
    return [*out, "}};", ""]


def events_section(ev: ModuleType) -> list[str]:
    """Namespace tickgate::events, from protocol/events.py: enums, Event and one view per kind."""
    docs = {f.name: f.doc for f in (*ev.COMMON_FIELDS, *(f for fs in ev.KIND_FIELDS.values() for f in fs))}
    out = ["namespace tickgate::events {", "", *_lines(_EVENT_TYPES), "",
           f"inline constexpr std::size_t kEventSize = {ev.EVENT_SIZE};", ""]
    enums = [obj for obj in vars(ev).values()  # every enum events.py defines, in order
             if isinstance(obj, type) and issubclass(obj, IntEnum | IntFlag)
             and obj.__module__ == ev.__name__]
    for e in enums:
        out += _enum(e)
    out += [f"inline constexpr std::array<EnumTable, {len(enums)}> kEnums{{{{"]
    out += [f'    {{"{e.__name__}", k{e.__name__}Members}},' for e in enums]
    out += ["}};", ""]
    out += _record("Event", "The record as EVENT_DTYPE sees it: common and top-of-book fields. Zero it with "
                   "`Event e{};`; other kinds: view_as<TradeEvent>(e) and so on.", ev.EVENT_DTYPE, docs)
    views = [(kind, f"{_camel(kind.name)}Event") for kind in ev.KIND_FIELDS]
    for kind, view in views:
        doc = f"The record of a {kind.name} event (KIND_DTYPES[EventKind.{kind.name}])."
        out += _record(view, doc, ev.KIND_DTYPES[kind], docs, kind)
    out += [*_lines(_EVENT_KINDS), "",
            f"inline constexpr std::array<KindLayout, {len(views)}> kKindLayouts{{{{"]
    out += [f'    {{EventKind::k{_camel(k.name)}, "{k.name}", k{v}Layout}},' for k, v in views]
    return [*out, "}};", "", *_lines(_VIEW_AS), "", "}  // namespace tickgate::events", ""]


def _line_struct(name: str, doc: str, fields: Sequence[Any], size: int) -> list[str]:
    """A struct of one shared-memory header line: the fields at their offsets, the gaps reserved, asserted."""
    out, pos = [f"/// {_comment(doc)}", f"struct alignas({size}) {name} {{"], 0
    fs = sorted(fields, key=lambda f: f.offset)
    for f in fs:
        if f.offset > pos:
            out.append(f"  std::uint8_t reserved{pos}[{f.offset - pos}];")
        ctype, suffix = _ctype(f.name, np.dtype(f.dtype))
        out.append(f"  {ctype} {_ident(f.name)}{suffix};  // {f.offset}: {_comment(f.doc)}")
        pos = f.offset + np.dtype(f.dtype).itemsize
    if pos < size:
        out.append(f"  std::uint8_t reserved{pos}[{size - pos}];")
    out += ["};", f"static_assert(sizeof({name}) == {size} && std::is_trivially_copyable_v<{name}>);"]
    out += [f"static_assert(offsetof({name}, {f.name}) == {f.offset});" for f in fs]
    return [*out, ""]


def shm_section(shm: ModuleType) -> list[str]:
    """Namespace tickgate::shm, from protocol/shm_ring.py: the shared-memory event ring's header and constants."""
    line = shm.CACHE_LINE
    out = ["namespace tickgate::shm {", "",
           f"inline constexpr std::uint64_t kMagic = {shm.MAGIC:#x}ULL;",
           f"inline constexpr std::uint32_t kVersion = {shm.VERSION};",
           f"inline constexpr std::size_t kCacheLine = {line};",
           f"inline constexpr std::size_t kRecordSize = {shm.RECORD_SIZE};",
           "static_assert(kRecordSize == events::kEventSize);",
           f"inline constexpr std::size_t kHeaderBytes = {shm.HEADER_BYTES};",
           f"inline constexpr std::size_t kInfoOffset = {shm.INFO_OFFSET};",
           f"inline constexpr std::size_t kProducerOffset = {shm.PRODUCER_OFFSET};",
           f"inline constexpr std::size_t kConsumersOffset = {shm.CONSUMERS_OFFSET};",
           f"inline constexpr std::size_t kMaxConsumers = {shm.MAX_CONSUMERS};", "",
           "enum class State : std::uint32_t {"]
    out += [f"  k{_camel(m.name)} = {int(m)}," for m in shm.ShmState]
    out += ["};", ""]
    out += _line_struct("Info", "Line 0: what the segment is, and the producer's epoch and state.",
                        shm.INFO_FIELDS, line)
    out += _line_struct("ProducerLine", "Line 1: the producer's indices, alone on their line.",
                        shm.PRODUCER_FIELDS, line)
    out += _line_struct("ConsumerSlot", "A reader's slot: its progress, written by that reader only.",
                        shm.CONSUMER_FIELDS, line)
    out += ["/// The whole header, as mapped at the start of a segment; records follow at kHeaderBytes.",
            "struct Header {", "  Info info;", "  ProducerLine producer;", "  ConsumerSlot consumers[kMaxConsumers];",
            "};", "static_assert(sizeof(Header) == kHeaderBytes);",
            "static_assert(offsetof(Header, info) == kInfoOffset && offsetof(Header, producer) == kProducerOffset);",
            "static_assert(offsetof(Header, consumers) == kConsumersOffset);", "",
            "}  // namespace tickgate::shm", ""]
    return out


def regs_section(rg: ModuleType) -> list[str]:
    """Namespace tickgate::regs, from protocol/registers.py: offsets, fields, counter indices, tables."""
    regs = list(rg.REGISTER_MAP)
    counters = rg.REGISTER_MAP.group("counter")
    out = ["namespace tickgate::regs {", "",
           f"inline constexpr std::uint32_t kMapVersion = {rg.MAP_VERSION};",
           f"inline constexpr std::uint32_t kIdMagic = {rg.ID_MAGIC:#010x};",
           f"inline constexpr std::uint32_t kMapSize = {rg.REGISTER_MAP.size:#x};",
           f"inline constexpr std::uint32_t kCounterBase = {rg.COUNTER_BASE:#x};",
           f"inline constexpr std::size_t kCounterCount = {len(counters)};", "",
           *_lines(_REG_TYPES), "", "/// Byte offset of each register.", "namespace offset {"]
    out += [f"inline constexpr std::uint32_t {_ident(r.name)} = {r.offset:#05x};  "
            f"// {r.access} {r.width}: {_comment(r.doc)}" for r in regs]
    out += ["}  // namespace offset", "",
            "/// Each register field, `<register>_<field>` (protocol.registers.Field; w1: a command bit).",
            "namespace field {"]
    out += [f"inline constexpr Field {_ident(f'{r.name}_{f.name}')}{{{f.lo}, {f.width}}};  "
            f"// {f.access}, mask {f.mask:#010x}{': ' + _comment(f.doc) if f.doc else ''}"
            for r in regs for f in r.fields]
    out += ["}  // namespace field", "", "/// Index of each counter in kCounters.", "namespace counter {"]
    out += [f"inline constexpr std::size_t {r.name} = {i};" for i, r in enumerate(counters)]
    out += ["}  // namespace counter", "",
            f"inline constexpr std::array<Register, {len(regs)}> kRegisters{{{{"]
    out += [f'    {{"{r.name}", offset::{r.name}, {r.width}, Access::k{_camel(r.access)}, "{r.group}"}},'
            for r in regs]
    out += ["}};", "", "inline constexpr std::array<Counter, kCounterCount> kCounters{{"]
    out += [f'    {{"{r.name}", offset::{r.name}}},' for r in counters]
    return [*out, "}};", "", "}  // namespace tickgate::regs", ""]


def f2_section(f2: ModuleType) -> list[str]:
    """Namespace tickgate::f2, from protocol/f2_map.py: every constant it exports (PCI IDs, BARs, the host
    ring's sizes and alignment, the ingress window), `CL_DEVICE_IDS` as its bounds, `RingControl` as bits."""
    out = ["namespace tickgate::f2 {", ""]
    for name in f2.__all__:
        value = getattr(f2, name)
        if isinstance(value, bool) or callable(value):
            continue
        if isinstance(value, int):
            out.append(f"inline constexpr std::uint64_t k{_camel(_ident(name))} = {value:#x};")
        elif isinstance(value, str):
            out.append(f'inline constexpr std::string_view k{_camel(_ident(name))} = "{value}";')
        elif isinstance(value, range) and value.step == 1:
            out += [f"inline constexpr std::uint64_t k{_camel(_ident(name))}First = {value.start:#x};",
                    f"inline constexpr std::uint64_t k{_camel(_ident(name))}Last = {value.stop - 1:#x};"]
        else:
            raise ValueError(f"f2_map.{name}: no C++ form for {value!r}")
    out += ["", "/// Bits of the `ring_control` register.", "namespace ring_control {"]
    out += [f"inline constexpr std::uint32_t k{_camel(m.name)} = {int(m):#x};" for m in f2.RingControl]
    return [*out, "}  // namespace ring_control", "", "}  // namespace tickgate::f2", ""]


def rules_section(ru: ModuleType) -> list[str]:
    """Namespace tickgate::rules, from protocol/rules.py: the conditions, price modes and constants."""
    out = ["namespace tickgate::rules {", "", "using events::EnumMember;", "",
           f"inline constexpr std::size_t kMaxRules = {ru.MAX_RULES};",
           f"inline constexpr std::uint64_t kImbalanceOne = {ru.IMBALANCE_ONE};  // the ratio 1.0 (Q16.16)", ""]
    for e in (ru.RuleCondition, ru.PriceMode):
        out += _enum(e)
    return [*out, "}  // namespace tickgate::rules", ""]


def net_section(net: ModuleType) -> list[str]:
    """Namespace tickgate::net, from protocol/net_headers.py: the Ethernet/802.1Q/IPv4/UDP offsets and constants
    (the capture reader's VLAN rule, `kCaptureVlanTpids` at any depth, beside the card's)."""
    out = ["namespace tickgate::net {", ""]
    for name in ("ETH_TYPE_AT", "ETH_HEADER_LEN", "VLAN_TAG_LEN", "MAX_VLAN_TAGS", "IPV4_MIN_IHL", "UDP_HEADER_LEN"):
        out.append(f"inline constexpr std::size_t k{_camel(name)} = {getattr(net, name)};")
    for name in ("ETHERTYPE_IPV4", "IPV4_FRAGMENT_MASK", "IP_PROTO_TCP", "IP_PROTO_UDP"):
        out.append(f"inline constexpr std::uint32_t k{_camel(name)} = {getattr(net, name):#06x};")
    for name in ("VLAN_TPIDS", "CAPTURE_VLAN_TPIDS"):
        values = getattr(net, name)
        out.append(f"inline constexpr std::array<std::uint32_t, {len(values)}> k{_camel(name)}{{{{"
                   + ", ".join(f"{v:#06x}" for v in values) + "}};")
    for header, table in (("ipv4", net.IPV4), ("udp", net.UDP)):
        out += ["", f"/// Byte offset of each {header.upper()} header field from its start (size in the comment).",
                f"namespace {header} {{"]
        out += [f"inline constexpr std::size_t {_ident(name)} = {f.offset};  // {f.size} bytes"
                for name, f in table.items()]
        out.append(f"}}  // namespace {header}")
    return [*out, "", "}  // namespace tickgate::net", ""]
