"""The memories of a design and the block RAM, UltraRAM or LUT RAM each takes by its shape.

For images too big to synthesise here (the default and large configurations' order tables are 19 and
152 Mbit), the memories are counted from the elaborated design, without synthesis, in seconds, by the rule
below (the shapes UltraScale+ offers; what Vivado picks may differ, e.g. it can cascade or pack differently):

- a memory with an asynchronous (`comb`) read port, or at most `LUTRAM_DEPTH` words deep, is LUT RAM:
  RAM32M16 (32 x 14 bits in 8 LUTs) up to 32 words, else RAM64M8 (64 x 7 in 8 LUTs) per 64 words, per
  read port (Yosys maps the small image's memories so: README "Resource estimates" compares the two);
- else one of `depth` >= `URAM_DEPTH` is UltraRAM, URAM288 blocks of 4096 x 72;
- else block RAM, RAMB36 of the best of 512 x 72 ... 32768 x 1.

A memory with more read ports than a block has (two for block RAM and UltraRAM, one of them shared with
the write port) is replicated per read port.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Fragment, Shape
from amaranth.hdl._mem import MemoryInstance

__all__ = ["LUTRAM_DEPTH", "URAM_DEPTH", "MemoryShape", "count_by_shape", "memories"]

URAM_DEPTH = 4096
LUTRAM_DEPTH = 64
_BRAM36 = ((512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1))


@dataclass(frozen=True)
class MemoryShape:
    """One memory: its instance path, depth, width in bits, and its read ports' domains."""

    path: str
    depth: int
    width: int
    read_domains: tuple[str, ...]

    @property
    def bits(self) -> int:
        return self.depth * self.width

    def resources(self) -> dict[str, int]:
        """{"URAM" | "BRAM36" | "LUTRAM": count} by the rule of the module docstring."""
        reads = max(1, len(self.read_domains))
        if "comb" in self.read_domains or self.depth <= LUTRAM_DEPTH:
            cells = 1 if self.depth <= 32 else math.ceil(self.depth / 64)
            bits_per_cell = 14 if self.depth <= 32 else 7
            return {"LUTRAM": 8 * cells * math.ceil(self.width / bits_per_cell) * reads}
        copies = max(1, reads - 1)  # one read beside the write port's, the other port of the block
        if self.depth >= URAM_DEPTH:
            return {"URAM": math.ceil(self.depth / 4096) * math.ceil(self.width / 72) * copies}
        blocks = min(math.ceil(self.depth / d) * math.ceil(self.width / w) for d, w in _BRAM36)
        return {"BRAM36": blocks * copies}


def memories(component: Any) -> Iterator[MemoryShape]:
    """Every memory of `component`'s elaborated design, with its instance path."""
    def walk(fragment: Fragment, path: str) -> Iterator[MemoryShape]:
        if isinstance(fragment, MemoryInstance):
            data = fragment._data
            yield MemoryShape(path, data.depth, Shape.cast(data.shape).width,
                              tuple(p._domain for p in fragment._read_ports))
        for sub, name, _loc in fragment.subfragments:
            yield from walk(sub, f"{path}.{name}" if path else str(name))

    yield from walk(Fragment.get(component, None), "")


def count_by_shape(component: Any) -> tuple[dict[str, int], list[MemoryShape]]:
    """(resources of every memory of `component` by shape, summed; the memories)."""
    found = list(memories(component))
    total = {"URAM": 0, "BRAM36": 0, "LUTRAM": 0}
    for mem in found:
        for k, v in mem.resources().items():
            total[k] += v
    return total, found
