"""Memories counted by shape: the rule of `bitstreams.memories` on a component with one memory of each kind."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tickgate.bitstreams.memories import MemoryShape, count_by_shape


class _Mems(wiring.Component):
    a: In(16)
    d: Out(8)

    def elaborate(self, platform):
        m = Module()
        for name, depth, width, domain in (("lut", 64, 30, "sync"), ("comb", 256, 8, "comb"),
                                           ("bram", 1024, 100, "sync"), ("uram", 8192, 80, "sync")):
            m.submodules[name] = mem = Memory(shape=width, depth=depth, init=[])
            rd = mem.read_port(domain=domain)
            m.d.comb += rd.addr.eq(self.a)
        return m


def test_count_by_shape():
    total, found = count_by_shape(_Mems())
    by = {m.path: m.resources() for m in found}
    assert by == {
        "lut": {"LUTRAM": 8 * 5},  # RAM64M8: 7 bits in 8 LUTs, 30 bits -> 5
        "comb": {"LUTRAM": 8 * 4 * 2},  # asynchronous read: LUT RAM, 4 x 64 words of 8 bits
        "bram": {"BRAM36": 3},  # the best shape: 1024 x 36 (1 x 3); 512 x 72 would take 2 x 2
        "uram": {"URAM": 4},  # 2 x 4096 deep, 2 x 72 wide
    }
    assert total == {k: sum(r.get(k, 0) for r in by.values()) for k in ("URAM", "BRAM36", "LUTRAM")}
    assert MemoryShape("x", 100, 10, ("sync", "sync", "sync")).resources() == {"BRAM36": 2}  # one copy per extra read
