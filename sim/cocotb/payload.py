"""Amaranth payload values <-> the integer on a flattened Verilog port.

`amaranth.back.verilog.convert` writes a stream's payload as ONE port, `<port>__payload`, as wide as the
layout, with the layout's fields at their offsets (the first field in the low bits); the struct fields
appear only as internal wires (`\\i__payload.data`). So a payload is an int on the port, and these
codecs turn it into nested dicts (StructLayout), lists (ArrayLayout) and ints (or enum members) and back.
Pure Python: usable inside cocotb and in plain pytest.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["PayloadCodec"]


class PayloadCodec:
    """pack/unpack values of one shape: an Amaranth StructLayout, ArrayLayout, enum or plain shape."""

    def __init__(self, shape: Any) -> None:
        self.shape = shape
        self.fields: list[tuple[Any, int, PayloadCodec]] = []
        self.signed = False
        if isinstance(shape, data.StructLayout | data.ArrayLayout):
            self.width = shape.size
            self.fields = [(key, fld.offset, PayloadCodec(fld.shape)) for key, fld in shape]
        elif isinstance(shape, data.Layout):
            raise TypeError(f"{shape!r}: only struct and array layouts have one meaning per bit")
        else:
            cast = Shape.cast(shape)
            self.width, self.signed = cast.width, cast.signed
        self.mask = (1 << self.width) - 1
        self.enum = shape if isinstance(shape, type) and issubclass(shape, enum.Enum) else None
        # A struct of plain unsigned fields (the common case, e.g. PacketBeat) packs in one quick loop.
        self._flat: list[tuple[str, int, int]] | None = None
        if isinstance(shape, data.StructLayout) and all(c._plain for _, _, c in self.fields):
            self._flat = [(key, off, codec.mask) for key, off, codec in self.fields]
        self._keys = frozenset(key for key, _, _ in self.fields)

    @property
    def _plain(self) -> bool:
        return not self.fields and not self.signed and self.enum is None

    def pack(self, value: Any) -> int:
        """The port's integer for `value` (a dict, list, int or enum member; missing struct fields are 0)."""
        if isinstance(self.shape, data.StructLayout):
            if not isinstance(value, Mapping):
                raise TypeError(f"a {self.shape!r} payload is a dict, not {value!r}")
            if not self._keys >= value.keys():
                raise KeyError(f"no field {sorted(set(value) - self._keys)} in {self.shape!r}")
            if self._flat is None:
                return sum(codec.pack(value[key]) << off for key, off, codec in self.fields if key in value)
            bits = 0
            for key, off, mask in self._flat:
                v = value.get(key, 0)
                if v & ~mask:
                    raise ValueError(f"{key}={v} does not fit {self.shape!r}")
                bits |= v << off
            return bits
        if isinstance(self.shape, data.ArrayLayout):
            if not isinstance(value, Sequence) or len(value) != len(self.fields):
                raise TypeError(f"a {self.shape!r} payload is a list of {len(self.fields)}, not {value!r}")
            return sum(codec.pack(v) << off for (_, off, codec), v in zip(self.fields, value, strict=True))
        if isinstance(value, enum.Enum):
            value = value.value
        value = int(value)
        lo, hi = (-(1 << (self.width - 1)), (1 << (self.width - 1))) if self.signed else (0, 1 << self.width)
        if not lo <= value < hi:
            raise ValueError(f"{value} does not fit {self.shape!r}")
        return value & self.mask

    def unpack(self, bits: int) -> Any:
        """The value (dict, list, int or enum member) that the port's integer `bits` holds."""
        if self._flat is not None:
            return {key: (bits >> off) & mask for key, off, mask in self._flat}
        if isinstance(self.shape, data.StructLayout):
            return {key: codec.unpack(bits >> off) for key, off, codec in self.fields}
        if isinstance(self.shape, data.ArrayLayout):
            return [codec.unpack(bits >> off) for _, off, codec in self.fields]
        bits &= self.mask
        if self.signed and bits >> (self.width - 1):
            bits -= 1 << self.width
        if self.enum is not None:
            try:
                return self.enum(bits)
            except ValueError:
                return bits
        return bits
