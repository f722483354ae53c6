"""Counters: a bank of 64-bit registers, each advanced every cycle by the sum of what its sources add."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CounterBank"]


class CounterBank(wiring.Component):
    """`count[name] += inc[name]` every cycle; names and widths as given (counters wrap at their width).

    `clear` restarts every counter from what it adds that cycle (nothing counted is lost). The increments and
    `clear` are registered before they are added, so the adders start from registers whatever makes the
    increments (a count shows one cycle later).
    """

    def __init__(self, names: tuple[str, ...], *, width: int = 64) -> None:
        if not names or len(set(names)) != len(names):
            raise ValueError(f"counter names must be unique and not empty, got {names!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"counter width must be a positive integer, got {width!r}")
        layout = data.StructLayout(dict.fromkeys(names, width))
        super().__init__({"inc": In(layout), "count": Out(layout), "clear": In(1)})
        self.names = names

    def elaborate(self, platform) -> Module:
        m = Module()
        inc, clear = Signal.like(self.inc, name="inc_r"), Signal(name="clear_r")
        m.d.sync += [inc.eq(self.inc), clear.eq(self.clear)]
        for name in self.names:
            with m.If(clear):
                m.d.sync += self.count[name].eq(inc[name])
            with m.Else():
                m.d.sync += self.count[name].eq(self.count[name] + inc[name])
        return m
