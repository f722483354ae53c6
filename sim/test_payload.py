"""Payload codecs against Amaranth's own bit layout, packets <-> PacketBeat dicts, transfer statistics."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import signed
from amaranth.lib import data, enum

from tickgate.hdl.layouts import PacketBeat
from tickgate.sim.cocotb.payload import PayloadCodec
from tickgate.sim.cocotb.streams import Transfer, join_beats, latencies, packet_beats, rate


class Kind(enum.Enum, shape=2):
    ADD = 1
    DELETE = 2


Nested = data.StructLayout({
    "kind": Kind,
    "delta": signed(7),
    "lanes": data.ArrayLayout(5, 3),
    "inner": data.StructLayout({"a": 1, "b": 12}),
})


def amaranth_bits(layout: data.Layout, value: dict) -> int:
    return layout.const(value).as_bits()


def test_packet_beat_matches_amaranth() -> None:
    codec = PayloadCodec(PacketBeat)
    assert codec.width == 69
    rng = random.Random(3)
    for _ in range(200):
        beat = {"data": rng.getrandbits(64), "nbytes": rng.randint(1, 8), "last": rng.randint(0, 1)}
        bits = codec.pack(beat)
        assert bits == amaranth_bits(PacketBeat, beat)
        assert codec.unpack(bits) == beat
    assert codec.pack({"data": 0xAB}) == 0xAB  # missing fields are zero


def test_nested_struct_enum_signed_array_match_amaranth() -> None:
    codec = PayloadCodec(Nested)
    value = {"kind": Kind.DELETE, "delta": -5, "lanes": [1, 30, 17], "inner": {"a": 1, "b": 0xABC}}
    bits = codec.pack(value)
    assert bits == amaranth_bits(Nested, value)
    assert codec.unpack(bits) == value
    assert isinstance(codec.unpack(bits)["kind"], Kind)
    assert codec.unpack(amaranth_bits(Nested, {"kind": Kind.ADD}))["kind"] is Kind.ADD


def test_codec_rejects_what_does_not_fit() -> None:
    codec = PayloadCodec(PacketBeat)
    with pytest.raises(ValueError, match="nbytes"):
        codec.pack({"nbytes": 16})
    with pytest.raises(ValueError):
        codec.pack({"data": -1})
    with pytest.raises(KeyError, match="bytes"):
        codec.pack({"bytes": 1})
    with pytest.raises(ValueError):
        PayloadCodec(Nested).pack({"delta": 64})
    with pytest.raises(TypeError):
        PayloadCodec(data.UnionLayout({"a": 8, "b": 4}))


def test_plain_shapes() -> None:
    assert PayloadCodec(8).pack(255) == 255
    assert PayloadCodec(signed(4)).pack(-1) == 0xF
    assert PayloadCodec(signed(4)).unpack(0xF) == -1


def test_packet_beats_layout() -> None:
    beats = packet_beats(bytes(range(1, 12)))
    assert beats == [
        {"data": int.from_bytes(bytes(range(1, 9)), "little"), "nbytes": 8, "last": 0},
        {"data": int.from_bytes(bytes([9, 10, 11, 0, 0, 0, 0, 0]), "little"), "nbytes": 3, "last": 1},
    ]
    assert beats[0]["data"] & 0xFF == 1  # byte 0 of the beat in the low bits
    assert packet_beats(bytes(8)) == [{"data": 0, "nbytes": 8, "last": 1}]
    with pytest.raises(ValueError):
        packet_beats(b"")


def test_beats_round_trip_with_random_filler() -> None:
    rng = random.Random(5)
    packets = [rng.randbytes(rng.randint(1, 40)) for _ in range(50)]
    beats = [b for p in packets for b in packet_beats(p, filler=rng)]
    assert any(b["nbytes"] < 8 and b["data"] >> (8 * b["nbytes"]) for b in beats)  # the filler is there
    assert join_beats(beats) == packets
    assert join_beats(beats[:-1]) == packets[:-1]  # an unfinished packet is not a packet


def test_latencies_and_rate() -> None:
    sent = [Transfer(n, c) for n, c in enumerate([3, 4, 9])]
    got = [Transfer(n, c) for n, c in enumerate([5, 6, 12])]
    assert latencies(sent, got) == [2, 2, 3]
    assert rate(got) == 3 / 8
    assert rate([]) == 0.0
    with pytest.raises(ValueError):
        latencies(sent, got[:2])
