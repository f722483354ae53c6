"""The 64-byte event record as Amaranth layouts, one per kind, generated from `protocol.events`.

A record is one 512-bit beat, byte 0 in bits 0-7; every field is little-endian, so a field's bits are its
value. Bytes no field of the kind uses are `reservedN` members, zero.
"""

from amaranth.hdl import Cat, Const, Value
from amaranth.lib import data

from tickgate.protocol.events import EVENT_SIZE, EventKind, fields_of

__all__ = ["EVENT_BITS", "EVENT_LAYOUTS", "event_layout", "pack_event"]

EVENT_BITS = 8 * EVENT_SIZE


def event_layout(kind: EventKind) -> data.StructLayout:
    """The record of `kind` as a struct over its 512 bits, gaps as `reservedN` members."""
    members, pos = {}, 0
    for f in sorted(fields_of(kind), key=lambda f: f.offset):
        if f.offset > pos:
            members[f"reserved{pos}"] = 8 * (f.offset - pos)
        members[f.name] = 8 * f.width
        pos = f.offset + f.width
    if pos < EVENT_SIZE:
        members[f"reserved{pos}"] = 8 * (EVENT_SIZE - pos)
    layout = data.StructLayout(members)
    assert layout.size == EVENT_BITS, kind
    return layout


EVENT_LAYOUTS: dict[EventKind, data.StructLayout] = {k: event_layout(k) for k in EventKind}


def pack_event(kind: EventKind, **fields: Value | int) -> Value:
    """The 512 bits of one record of `kind`: the named fields set, every other bit zero."""
    layout = EVENT_LAYOUTS[kind]
    fields = {"kind": int(kind), **fields}
    parts = []
    for name, member in layout:
        value = fields.pop(name, 0)
        parts.append(_fit(value, member.width))
    if fields:
        raise ValueError(f"{kind.name} events have no fields {sorted(fields)}")
    return Cat(*parts)


def _fit(value: Value | int, width: int) -> Value:
    """`value` as exactly `width` bits: zero-extended, or cut to its low bits."""
    if isinstance(value, int):
        return Const(value, width)
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width]
    return Cat(value, Const(0, width - len(value)))
