"""An AXI4-Lite manager for Amaranth simulator testbenches (`Simulator.add_testbench`)."""

from collections.abc import Callable

from tickgate.hdl.csr import OKAY

HANDSHAKE_LIMIT = 20  # cycles any one channel may wait



class Manager:
    """Drives an AXI4-Lite bus (the manager side of `hdl.csr.AxiLiteSignature`) one transaction at a time.

    Counts cycles, failing past `limit`; `on_cycle(cycle)` runs before every clock edge (to watch outputs).
    """

    def __init__(self, ctx, bus, limit: int, on_cycle: Callable[[int], None] | None = None) -> None:
        self.ctx, self.bus, self.limit, self.on_cycle = ctx, bus, limit, on_cycle
        self.cycle = 0

    async def tick(self) -> None:
        if self.on_cycle is not None:
            self.on_cycle(self.cycle)
        await self.ctx.tick()
        self.cycle += 1
        assert self.cycle <= self.limit, f"testbench ran past its {self.limit}-cycle limit"

    async def _handshake(self, channels: list[tuple[str, dict[str, int]]]) -> None:
        """Offer every channel (prefix, payload) at once; return once each has been taken."""
        ctx, bus = self.ctx, self.bus
        pending = dict(channels)
        for prefix, payload in pending.items():
            for name, value in payload.items():
                ctx.set(getattr(bus, name), value)
            ctx.set(getattr(bus, f"{prefix}valid"), 1)
        for _ in range(HANDSHAKE_LIMIT):
            taken = [p for p in pending if ctx.get(getattr(bus, f"{p}ready"))]
            await self.tick()
            for prefix in taken:
                ctx.set(getattr(bus, f"{prefix}valid"), 0)
                del pending[prefix]
            if not pending:
                return
        raise AssertionError(f"channels {sorted(pending)} never ready")

    async def _response(self, prefix: str, fields: tuple[str, ...], delay: int = 0) -> tuple[int, ...]:
        for _ in range(delay):
            await self.tick()
        ctx, bus = self.ctx, self.bus
        ctx.set(getattr(bus, f"{prefix}ready"), 1)
        for _ in range(HANDSHAKE_LIMIT):
            valid = ctx.get(getattr(bus, f"{prefix}valid"))
            values = tuple(ctx.get(getattr(bus, f)) for f in fields)
            await self.tick()
            if valid:
                ctx.set(getattr(bus, f"{prefix}ready"), 0)
                return values
        raise AssertionError(f"no {prefix} response")

    async def write(self, addr: int, value: int, strb: int = 0xF, order: str = "together", gap: int = 0) -> int:
        """One write; `order` is "together", "aw" (AW first, W `gap` cycles later) or "w". Returns BRESP."""
        aw = ("aw", {"awaddr": addr})
        w = ("w", {"wdata": value, "wstrb": strb})
        if order == "together":
            await self._handshake([aw, w])
        else:
            first, second = (aw, w) if order == "aw" else (w, aw)
            await self._handshake([first])
            for _ in range(gap):
                assert not self.ctx.get(self.bus.bvalid), "a write answered before its data or address"
                await self.tick()
            await self._handshake([second])
        (resp,) = await self._response("b", ("bresp",))
        return resp

    async def read(self, addr: int, delay: int = 0) -> tuple[int, int]:
        """One read: (RDATA, RRESP); RREADY rises `delay` cycles after the address is taken."""
        await self._handshake([("ar", {"araddr": addr})])
        return await self._response("r", ("rdata", "rresp"), delay)

    async def read_ok(self, addr: int) -> int:
        value, resp = await self.read(addr)
        assert resp == OKAY, f"read {addr:#x}: response {resp}"
        return value
