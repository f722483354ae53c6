"""The compiled `tickgate._driver` against the Python protocol tables and real market data.

Every table the module returns is read from the compiled header (kFields, offsetof, kRegisters, ...), so
equality here means the generated C++ matches protocol/*.py field for field.
"""

from __future__ import annotations

import glob
from pathlib import Path

import dpkt
import pytest

from tickgate import _driver
from tickgate.protocol import codegen_cpp, events, itch, moldudp64, registers
from tickgate.protocol.itch_spec import LENGTHS, MESSAGES

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
PCAPS = sorted(glob.glob(str(SHARED / "data" / "pcap" / "*.Itch.v5.0*" / "*.pcap")))
ITCH_FILES = sorted((SHARED / "data" / "itch").glob("*.itch50"))


def _udp_payloads(path: str) -> list[bytes]:
    with open(path, "rb") as fh:
        return [bytes(dpkt.ethernet.Ethernet(frame).data.data.data) for _ts, frame in dpkt.pcap.Reader(fh)]


def _binaryfile(data: bytes) -> tuple[list[bytes], int]:
    """Whole messages up to the zero-length marker, and the bytes left over after them."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        n = int.from_bytes(data[pos:pos + 2], "big")
        if n == 0:
            return out, 0
        if pos + 2 + n > len(data):
            break
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return out, len(data) - pos


@pytest.fixture(scope="module")
def pcap_messages() -> list[bytes]:
    assert PCAPS, f"no captures under {SHARED / 'data' / 'pcap'}"
    return [m for p in PCAPS for payload in _udp_payloads(p) for m in moldudp64.blocks(payload)]


# -- tables ------------------------------------------------------------------------------------------


def test_generated_header_in_build_dir_is_current() -> None:
    built = glob.glob(str(ROOT / "build" / "*" / "generated" / "tickgate" / "protocol.hpp"))
    if not built:
        pytest.skip("no build folder (installed from a wheel)")
    assert all(Path(b).read_text(encoding="utf-8") == codegen_cpp.render() for b in built)


def test_itch_tables() -> None:
    assert _driver.itch_lengths() == LENGTHS
    assert _driver.itch_messages() == {m.type: (m.name, m.length, m.book) for m in MESSAGES}
    assert _driver.itch_length_by_type() == [LENGTHS.get(chr(i), 0) for i in range(256)]
    assert _driver.itch_fields() == {
        m.type: [(f.name, f.offset, f.width, f.kind) for f in m.fields] for m in MESSAGES}
    assert sum(len(v) for v in _driver.itch_fields().values()) == sum(len(m.fields) for m in MESSAGES) > 150


def test_mold_layout() -> None:
    layout = _driver.mold_layout()
    for name in ("HEADER", "DMA_HEADER"):
        assert layout.pop(name) == [(f.name, f.offset, f.width, f.kind) for f in getattr(moldudp64, name)]
    assert layout == {k: getattr(moldudp64, k) for k in layout}
    assert (layout["END_OF_SESSION"], layout["HEADER_LEN"], layout["DMA_HEADER_LEN"]) == (0xFFFF, 20, 16)


def _dtype_layout(dtype) -> dict[str, tuple[int, int]]:
    return {name: (off, dt.itemsize) for name, (dt, off, *_) in dtype.fields.items()}


def test_event_record_layout() -> None:
    assert _driver.event_record() == (events.EVENT_SIZE, events.EVENT_SIZE)
    layout = _driver.event_layout()
    assert layout == _dtype_layout(events.EVENT_DTYPE)
    for f in events.COMMON_FIELDS + events.KIND_FIELDS[events.EventKind.BBO]:
        assert layout[f.name] == (f.offset, f.width), f.name
    assert sum(size for _off, size in layout.values()) == events.EVENT_SIZE  # reserved bytes included


def test_event_kind_layouts() -> None:
    kinds = _driver.event_kind_layouts()
    assert list(kinds) == [k.name for k in events.KIND_FIELDS]
    for kind, fields in events.KIND_FIELDS.items():
        value, layout = kinds[kind.name]
        assert value == int(kind)
        assert layout == _dtype_layout(events.KIND_DTYPES[kind])
        for f in events.COMMON_FIELDS + fields:
            assert layout[f.name] == (f.offset, f.width), (kind.name, f.name)


def test_event_enums() -> None:
    enums = (events.EventKind, events.EventFlag, events.SessionCode, events.LevelAction, events.DegradedReason)
    assert _driver.event_enums() == {e.__name__: {m.name: int(m) for m in e} for e in enums}


def test_register_map() -> None:
    rmap = registers.REGISTER_MAP
    assert _driver.map_version() == registers.MAP_VERSION
    assert _driver.register_offsets() == {r.name: r.offset for r in rmap}
    assert _driver.registers() == [(r.name, r.offset, r.width, r.access, r.group) for r in rmap]
    assert _driver.counters() == [(n, rmap[n].offset) for n in registers.counter_names()]
    assert _driver.register_constants() == {
        "MAP_VERSION": registers.MAP_VERSION, "ID_MAGIC": registers.ID_MAGIC,
        "COUNTER_BASE": registers.COUNTER_BASE, "MAP_SIZE": rmap.size,
        "COUNTER_COUNT": len(registers.COUNTERS)}


# -- decoding real messages ----------------------------------------------------------------------------


def test_decode_add_order_matches_python_on_real_captures(pcap_messages: list[bytes]) -> None:
    adds = [m for m in pcap_messages if m[:1] in (b"A", b"F")]
    assert len(adds) > 40 and any(m[:1] == b"F" for m in adds)
    for msg in adds:
        assert _driver.decode_add_order(msg) == itch.decode(msg)._asdict()
    ivoo = [d for d in map(_driver.decode_add_order, adds) if d["stock"] == b"IVOO    "]
    assert ivoo and all(d["price"] == 873900 and d["shares"] == 1600 and d["buy_sell_indicator"] == b"B"
                        and d["timestamp"] == 34_199_999_894_278 for d in ivoo)  # 09:29:59.999894278


def test_decode_add_order_on_meatpy_file() -> None:
    msgs, left = _binaryfile((SHARED / "data" / "itch" / "meatpy_synthetic_20msgs.itch50").read_bytes())
    adds = [m for m in msgs if m[:1] == b"A"]
    assert left == 0 and adds
    for msg in adds:
        assert _driver.decode_add_order(bytearray(msg)) == itch.decode(msg)._asdict()


def test_decode_every_real_message(pcap_messages: list[bytes]) -> None:
    msgs = list(pcap_messages)
    for path in ITCH_FILES:
        msgs += _binaryfile(path.read_bytes())[0]
    seen = set()
    for msg in msgs:
        assert _driver.decode(memoryview(msg)) == itch.decode(msg)._asdict()
        seen.add(chr(msg[0]))
    assert len(seen) >= 17


@pytest.mark.parametrize("msg", [b"", b"z" + bytes(35), itch.encode(itch.make("A"))[:-1]])
def test_decode_rejects_what_python_rejects(msg: bytes) -> None:
    with pytest.raises(itch.ItchError):
        itch.decode(msg)
    with pytest.raises(ValueError):
        _driver.decode(msg)
    with pytest.raises(ValueError):
        _driver.decode_add_order(msg)


def test_decode_add_order_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="not an Add Order"):
        _driver.decode_add_order(itch.encode(itch.make("D", order_reference_number=7)))


def test_headers_match_python(pcap_messages: list[bytes]) -> None:
    payloads = [p for path in PCAPS for p in _udp_payloads(path)]
    for p in payloads:
        assert _driver.parse_mold_header(p) == tuple(moldudp64.parse_header(p))
    assert any(h[0] == b"000010059B" for h in map(_driver.parse_mold_header, payloads))
    packet = moldudp64.build("SESSION1", 2**40 + 5, [b"x"])
    assert _driver.parse_mold_header(packet) == (b"SESSION1  ", 2**40 + 5, 1)
    dma = moldudp64.DmaHeader(1472, 0x0102030405060708, moldudp64.DmaFlag.LINE_B).encode()
    assert _driver.parse_dma_header(dma) == (1472, 0x0102030405060708, 1)
    assert _driver.parse_dma_header(dma) == tuple(moldudp64.DmaHeader.decode(dma))
    with pytest.raises(ValueError):
        _driver.parse_mold_header(packet[:19])


# -- framing -------------------------------------------------------------------------------------------


def _counts(msgs: list[bytes], left: int) -> dict[str, int]:
    """The counters the reference model keeps for these messages (model/session.py, model/card.py)."""
    c = {"messages": len(msgs) + bool(left), "msg_truncated": int(bool(left)), "msg_bad_length": 0,
         "msg_unknown_type": 0, **{f"type_{m.type}": 0 for m in MESSAGES}}
    for m in msgs:
        try:
            c["type_" + itch.decode(m).message_type] += 1
        except itch.UnknownType:
            c["msg_unknown_type"] += 1
        except itch.BadLength:
            c["msg_bad_length"] += 1
    return c


@pytest.mark.parametrize("path", ITCH_FILES, ids=lambda p: p.name)
def test_frame_real_files(path: Path) -> None:
    data = path.read_bytes()
    msgs, left = _binaryfile(data)
    lengths = _driver.frame_lengths(data)
    assert lengths == [LENGTHS.get(chr(m[0]), 0) for m in msgs]
    assert lengths == [len(m) for m in msgs]  # real files: every prefix agrees with the type's length
    assert _driver.frame_counts(data) == _counts(msgs, left)


def test_frame_day_start_and_truncated_file() -> None:
    data = SHARED / "data" / "itch"
    counts = _driver.frame_counts((data / "nasdaq_day_start_1000msgs.itch50").read_bytes())
    assert counts["messages"] == 1000 and counts["type_R"] == 993 and counts["type_S"] == 1
    counts = _driver.frame_counts((data / "nasdaq_2016_truncated_500B.itch50").read_bytes())
    assert counts["messages"] == 17 and counts["msg_truncated"] == 1


def test_frame_counts_unknown_and_bad_lengths() -> None:
    def block(m: bytes) -> bytes:
        return len(m).to_bytes(2, "big") + m

    good = itch.encode(itch.make("S", event_code="O"))
    buf = block(good) + block(b"z" * 7) + block(good[:-1]) + block(b"\x00") + block(good) + block(b"")
    buf += block(good)  # after the end-of-session marker: not read
    assert _driver.frame_lengths(buf) == [12, 0, 12, 0, 12]
    counts = _driver.frame_counts(buf)
    assert (counts["messages"], counts["type_S"], counts["msg_unknown_type"], counts["msg_bad_length"]) == (
        5, 2, 2, 1)
    assert counts["msg_truncated"] == 0
    assert _driver.frame_counts(block(good) + b"\x00")["msg_truncated"] == 1  # half a length prefix
    assert _driver.frame_lengths(b"") == [] and _driver.frame_counts(b"")["messages"] == 0
    with pytest.raises(ValueError):
        _driver.frame_lengths(memoryview(buf)[::2])
