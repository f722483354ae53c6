"""Clock, reset, cycle numbers and a watchdog for a Verilated Amaranth top (runs inside cocotb).

Cycle numbers: cycle 0 is the first clock cycle after reset is released; code that samples in the
ReadOnly phase after a rising edge sees the number of the cycle that edge began. A transfer seen there
(valid & ready) happens at the end of that cycle.

Stream drivers and monitors are `Endpoint`s of a `Clocking`: one coroutine runs them all, calling
`on_edge()` of each after every rising edge (drive inputs) and `on_sample()` in the ReadOnly phase that
follows (read settled values). Two triggers per cycle however many streams are attached.
"""

from __future__ import annotations

from typing import Any, Protocol

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.task import Task
from cocotb.triggers import ReadOnly, RisingEdge, Timer

__all__ = ["Clocking", "Endpoint", "WatchdogExpired"]


class Endpoint(Protocol):
    """Something that acts once per clock cycle: drive after the rising edge, sample when settled."""

    def on_edge(self) -> None: ...

    def on_sample(self) -> None: ...


class WatchdogExpired(AssertionError):
    """The test ran past its cycle limit."""


class Clocking:
    """Drives `clk` with a `period_ns` clock and Amaranth's active-high synchronous `rst`; counts cycles."""

    def __init__(self, dut: Any, period_ns: int = 10, clk: str = "clk", rst: str | None = "rst") -> None:
        self.dut = dut
        self.clk = getattr(dut, clk)
        self.rst = getattr(dut, rst) if rst else None
        self.period_ns = period_ns
        self._clock = Clock(self.clk, period_ns, unit="ns")
        self._period_steps: int = convert(period_ns, "ns", to="step")
        self._t0: int | None = None
        self._endpoints: list[Endpoint] = []
        self._loop: Task[None] | None = None

    @property
    def rising(self) -> RisingEdge:
        return RisingEdge(self.clk)

    async def start(self, reset_cycles: int = 2) -> None:
        """Start the clock, hold reset for `reset_cycles` rising edges, then release it: cycle 0 begins."""
        if self.rst is not None:
            self.rst.value = 1
        self._clock.start(start_high=False)
        for _ in range(reset_cycles):
            await self.rising
        if self.rst is not None:
            self.rst.value = 0
        await self.rising
        self._t0 = get_sim_time("step")
        self._loop = cocotb.start_soon(self._run_endpoints())
        for endpoint in self._endpoints:
            endpoint.on_edge()

    def attach(self, endpoint: Endpoint) -> None:
        """Run `endpoint` every cycle from the next rising edge (or from cycle 0, if reset is still on)."""
        self._endpoints.append(endpoint)

    async def _run_endpoints(self) -> None:
        endpoints, rising, read_only = self._endpoints, self.rising, ReadOnly()
        while True:
            await read_only
            for endpoint in endpoints:
                endpoint.on_sample()
            await rising
            for endpoint in endpoints:
                endpoint.on_edge()

    def cycle(self) -> int:
        """The current cycle number (see the module docstring); only once `start()` has released reset."""
        if self._t0 is None:
            raise RuntimeError("Clocking.start() has not released reset yet")
        return (get_sim_time("step") - self._t0) // self._period_steps

    async def cycles(self, n: int) -> None:
        """Wait `n` rising edges."""
        await self._clock.cycles(n)

    async def sample(self) -> None:
        """Wait for the next rising edge and the ReadOnly phase after it (values settled)."""
        await self.rising
        await ReadOnly()

    def watchdog(self, cycles: int, what: str = "the test") -> Task[None]:
        """Fail the running test if it has not finished within `cycles` clock cycles from now."""

        async def bark() -> None:
            await Timer(cycles * self._period_steps, "step")
            raise WatchdogExpired(f"watchdog: {what} did not finish within {cycles} cycles")

        return cocotb.start_soon(bark())

