"""Amaranth layouts of the pipeline's streams, generated from the contracts in `tickgate.protocol`."""

from __future__ import annotations

from amaranth.lib import data

from tickgate.protocol.decoded import DECODED_FIELDS
from tickgate.protocol.itch_spec import BY_TYPE, Field, MessageSpec

BEAT_BYTES = 8

#: One beat of a packet stream (Ethernet frames or MoldUDP64 packets): 8 bytes, byte 0 of the beat (the
#: first on the wire) in `data[0:8]`. `nbytes` is how many bytes are valid (1-8; under 8 only on the
#: `last` beat of a packet). A packet is the beats up to and including one with `last`.
PacketBeat = data.StructLayout({
    "data": 8 * BEAT_BYTES,
    "nbytes": 4,
    "last": 1,
})

#: The decoder's output record, one per decoded message or session notice (`protocol.decoded`).
DecodedRecord = data.StructLayout({f.name: f.width for f in DECODED_FIELDS})


def itch_layout(spec: MessageSpec) -> data.StructLayout:
    """The wire bytes of one ITCH message type as a struct over a lane-ordered byte buffer.

    Fields hold their bytes in wire order (byte 0 in the low bits); big-endian integers need
    `byteswapped` to become numbers.
    """
    return data.StructLayout({f.name: 8 * f.width for f in spec.fields})


ITCH_LAYOUTS: dict[str, data.StructLayout] = {t: itch_layout(s) for t, s in BY_TYPE.items()}


def wire_field(spec_type: str, name: str) -> Field:
    """The table entry of one ITCH field (offset and width in bytes)."""
    return BY_TYPE[spec_type].field(name)
