"""The contracts themselves: ITCH table and codecs, the event record, the register map, MoldUDP64."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tickgate.protocol import itch, itch_spec
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.events import (
    EVENT_DTYPE,
    EVENT_SIZE,
    KIND_DTYPES,
    EventKind,
    as_kind,
    comparable,
    fields_of,
    pack_format,
    pack_order,
)
from tickgate.protocol.registers import COUNTERS, REGISTER_MAP, Register, RegisterMap

SPEC_LENGTHS = dict(S=12, R=39, H=25, Y=20, L=26, V=35, W=12, K=28, J=35, h=21, A=36, F=40, E=31, C=36, X=23,
                    D=19, U=35, P=44, Q=40, B=19, I=50, N=20, O=48)


def test_all_23_types_with_the_spec_lengths():
    assert {m.type: m.length for m in itch_spec.MESSAGES} == SPEC_LENGTHS


def test_reference_fields_at_their_offsets():
    a = itch_spec.BY_TYPE["A"]
    assert [(f.name, f.offset, f.width) for f in a.fields[4:]] == [
        ("order_reference_number", 11, 8), ("buy_sell_indicator", 19, 1), ("shares", 20, 4), ("stock", 24, 8),
        ("price", 32, 4)]
    u = itch_spec.BY_TYPE["U"]
    assert (u.field("new_order_reference_number").offset, u.field("price").offset) == (19, 31)
    assert itch_spec.BY_TYPE["Q"].field("shares").width == 8


@pytest.mark.parametrize("t", sorted(SPEC_LENGTHS))
def test_make_encode_decode_round_trip_and_numpy_view(t):
    spec = itch_spec.BY_TYPE[t]
    fields = {}
    for i, f in enumerate(spec.fields[1:], start=1):
        if f.kind == "alpha":
            fields[f.name] = bytes([65 + (i + k) % 26 for k in range(f.width)])
        else:
            fields[f.name] = (1 << (8 * f.width - 1)) - i if f.kind != "ts" else 0xABCDEF012345
    msg = itch.make(t, **fields)
    raw = itch.encode(msg)
    assert len(raw) == spec.length and raw[0] == ord(t)
    assert itch.decode(raw) == msg
    arr = itch.wire_array(raw * 3, t)
    assert len(arr) == 3 and int(itch.timestamp_of(arr)[2]) == 0xABCDEF012345
    for f in spec.fields[1:]:
        if f.kind != "ts":
            assert arr[f.name][1] == getattr(msg, f.name)


def test_decode_errors_name_the_problem():
    with pytest.raises(itch.UnknownType):
        itch.decode(b"Z" + bytes(20))
    with pytest.raises(itch.BadLength, match="19 bytes"):
        itch.decode(b"D" + bytes(10))
    with pytest.raises(itch.BadLength):
        itch.decode(b"")
    with pytest.raises(TypeError, match="no fields"):
        itch.make("D", shares=1)
    with pytest.raises(ValueError, match="longer"):
        itch.make("A", stock="TOOLONGSYM")


def test_event_record_is_64_bytes_and_every_kind_packs_where_its_view_reads():
    assert EVENT_DTYPE.itemsize == EVENT_SIZE == 64
    for kind in EventKind:
        fmt = pack_format(kind)
        assert struct.calcsize(fmt) == 64
        values = []
        for f in fields_of(kind):
            values.append(ord("x") if f.name == "kind" else
                          bytes(range(1, f.width + 1)) if f.dtype.startswith("S") else
                          (1 << (8 * f.width - 1)) + f.offset)
        order = pack_order(kind)
        by_name = dict(zip([f.name for f in fields_of(kind)], values, strict=True))
        rec = np.frombuffer(struct.pack(fmt, *[by_name[n] for n in order]), dtype=KIND_DTYPES[kind])
        for name, v in by_name.items():
            assert rec[name][0] == v, (kind.name, name)


def test_copies_keep_every_byte_and_comparable_skips_ts_local():
    raw = np.arange(256, dtype=np.uint8).tobytes() * 2
    ev = np.frombuffer(raw, dtype=EVENT_DTYPE)
    assert ev[[0, 3]].tobytes() == raw[:64] + raw[192:256]
    trades = ev.copy()
    trades["kind"][::2] = EventKind.TRADE
    assert as_kind(trades, EventKind.TRADE).tobytes() == trades[::2].tobytes()
    cmp = comparable(ev)
    assert cmp.shape == (8, 56) and 24 not in cmp[0] and 32 in cmp[0]


def test_register_map_has_every_counter_and_validates():
    counters = REGISTER_MAP.group("counter")
    assert [r.name for r in counters] == [n for n, _ in COUNTERS]
    assert all(r.width == 64 and r.offset % 8 == 0 for r in counters)
    with pytest.raises(ValueError, match="overlap"):
        RegisterMap([Register("a", 0, 64, "ro", ""), Register("b", 4, 32, "ro", "")], size=64)
    with pytest.raises(ValueError, match="aligned"):
        RegisterMap([Register("a", 2, 32, "ro", "")], size=64)
    with pytest.raises(ValueError, match="twice"):
        RegisterMap([Register("a", 0, 32, "ro", ""), Register("a", 4, 32, "ro", "")], size=64)


def test_moldudp64_packets():
    p = mold.build("SESS", 7, [b"abc", b"de"])
    assert mold.parse_header(p) == (b"SESS      ", 7, 2) and list(mold.blocks(p)) == [b"abc", b"de"]
    assert mold.parse_header(mold.heartbeat("S", 9)).is_heartbeat
    assert mold.parse_header(mold.end_of_session("S", 9)).is_end_of_session
    with pytest.raises(ValueError, match="past the end"):
        list(mold.blocks(p[:-1]))
    with pytest.raises(ValueError, match="after"):
        list(mold.blocks(p + b"x"))
    req = mold.RequestPacket(b"SESS", 100, 5)
    assert len(req.encode()) == 20 and mold.RequestPacket.decode(req.encode()) == (b"SESS      ", 100, 5)
    dma = mold.DmaHeader(len(p), 123456789)
    assert mold.DMA_HEADER_LEN == 16 and mold.DmaHeader.decode(dma.encode()) == dma


def test_dma_batch_framing():
    batch = mold.pack_dma([(b"abc", 5), (b"x" * 16, 7)])
    first = mold.DmaHeader.decode(batch)
    assert first == (3, 5, 0) and batch[16:19] == b"abc" and len(batch) == 24 + 32
    assert mold.DmaHeader.decode(batch[24:]) == (16, 7, 0) and batch[40:56] == b"x" * 16


def test_dma_flags_say_the_line_and_the_end_of_input():
    batch = mold.pack_dma([(b"abc", 5, mold.DmaFlag.LINE_B), (b"", 6, mold.DmaFlag.END_OF_INPUT)])
    assert mold.DmaHeader.decode(batch) == (3, 5, 1) and mold.DmaHeader.decode(batch[24:]) == (0, 6, 2)
    assert batch[2:4] == b"\x01\x00"  # the flags field, little-endian
