"""The PCIS AXI-4 subordinate: host writes into the ingress window; on F1 C2H reads from the egress window.

The windows (`protocol.f1_map`) are FIFO ports: addresses inside a window do not matter, order does.

- Writes to the ingress window go, beat by beat in order, into the ingress FIFO, then out on `dma_in` as
  64-bit words (byte 0 in bits 0-7), the 8-byte lanes of each beat in address order. A lane is taken when all
  8 of its strobes are set; a lane with some strobes set is dropped and counted (`partial_lanes`): the host
  writes whole 8-byte words (`pack_dma` pads to them), XDMA whole beats but maybe the last.
- Reads of the egress window pop one 64-byte event per beat from the egress FIFO (`events` in). A beat with
  no event waiting returns zeros (kind 0) with OKAY, counted (`egress_underflow`): the host reads at most
  `events_ready` events.
- The 8 us rule: no transaction waits on the pipeline. W beats are always taken (a beat that finds the
  ingress FIFO full is dropped, counted as `ingress_overflow`, and the burst answers SLVERR: the host writes
  at most `ingress_free` bytes); reads never wait for events. Only the shell's own BREADY/RREADY hold a
  transaction.
- Errors: a burst starting in the egress window (writes) or the ingress window (reads), or of a size other
  than 64 bytes, answers SLVERR; one starting outside both windows answers DECERR. Its data is dropped,
  reads return zeros; each is counted (`bad_writes`, `bad_reads`). AXI bursts do not cross 4 KiB, so a burst's start
  address decides its window. F1's PCIS has no AxBURST (INCR); the burst type would not matter to a FIFO port.
- One write burst and one read burst at a time (AW and AR taken when the previous one has answered).

F2 (`platform="f2"`, `protocol.f2_map`): the bus has the F2 shell's signals (16-bit IDs, AxBURST and the
attributes, user signals; RUSER driven 0). The host stores packets through a write-combining mapping; the shell
issues INCR bursts, and a write burst of another type answers SLVERR (counted in `bad_writes`). Events leave over
PCIM (`hdl.pcim`), so there is no egress FIFO: every read answers at once with zeros, SLVERR in the egress
window and DECERR elsewhere (counted in `bad_reads`), so a stray host read never waits for the 8 us timeout.

`ingress_free` is free FIFO entries (with the register the head entry is sent from) times 64 bytes: a write
that starts 64-byte aligned and is at most that long always fits. `events_ready` is the egress FIFO's level.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from tickgate.protocol.events import EVENT_SIZE
from tickgate.protocol.f1_map import EGRESS_BASE, EGRESS_SIZE, INGRESS_BASE, INGRESS_SIZE

__all__ = ["BEAT_BYTES", "DECERR", "INCR", "OKAY", "PLATFORMS", "SLVERR", "PcisBridge", "PcisCounts", "PcisSignature",
           "ShellAxiSignature"]

BEAT_BYTES = 64  # the PCIS data bus: 512 bits
LANE_BYTES = 8  # one `dma_in` word
LANES = BEAT_BYTES // LANE_BYTES
FULL_SIZE = (BEAT_BYTES - 1).bit_length()  # AxSIZE of whole 64-byte beats (6)
OKAY, SLVERR, DECERR = 0b00, 0b10, 0b11
USER_BITS = 55  # AxUSER of the F2 shell's AXI-4 buses
DATA_USER_BITS = 64  # WUSER / RUSER of the F2 shell's AXI-4 buses
if EVENT_SIZE != BEAT_BYTES:
    raise AssertionError("one event is one PCIS beat")

#: Per-cycle increments of the bridge's counters (what the CL adds to the register map's counters).
PcisCounts = data.StructLayout({
    "ingress_overflow": 1,  # W beats dropped: the ingress FIFO was full
    "partial_lanes": (LANES).bit_length(),  # 8-byte lanes with some but not all strobes set, dropped
    "egress_underflow": 1,  # egress reads answered with zeros: no event waiting
    "bad_writes": 1,  # write bursts answered SLVERR or DECERR for their address or size
    "bad_reads": 1,  # read bursts answered SLVERR or DECERR for their address or size
})


PLATFORMS = ("f1", "f2")
ID_WIDTHS = {"f1": (6,), "f2": (16,)}  # PCIS AXI ID bits on each platform
INCR = 0b01  # AxBURST of an incrementing burst, the only kind the shells issue and take


class ShellAxiSignature(wiring.Signature):
    """A 512-bit AXI-4 bus of the AWS shell (PCIS, and PCIM on F2), seen from the manager.

    Member names are AXI's (`awid`, `awaddr`, ...): 512-bit data, `addr_width`-bit addresses, `id_width`-bit IDs.
    `platform` "f1": the F1 PCIS (6-bit IDs, no AxBURST, no attributes). "f2": every signal of the F2 shell's
    `cl_ports.vh` for PCIS and PCIM: AxBURST, AxCACHE, AxLOCK, AxPROT, AxQOS, AxUSER (55 bits), WID, WUSER and
    RUSER (64 bits); the F2 shell supports none of the attributes (its errata), but its ports carry them.
    """

    def __init__(self, id_width: int = 6, addr_width: int = 64, *, platform: str = "f1") -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, not {platform!r}")
        for name, value in (("id width", id_width), ("address width", addr_width)):
            if not isinstance(value, int) or not 1 <= value <= 64:
                raise ValueError(f"{name} must be an integer from 1 to 64, not {value!r}")
        self.id_width, self.addr_width, self.platform = id_width, addr_width, platform
        members = {
            "awid": Out(id_width), "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3),
            "awvalid": Out(1), "awready": In(1),
            "wdata": Out(8 * BEAT_BYTES), "wstrb": Out(BEAT_BYTES), "wlast": Out(1), "wvalid": Out(1),
            "wready": In(1),
            "bid": In(id_width), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "arid": Out(id_width), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3),
            "arvalid": Out(1), "arready": In(1),
            "rid": In(id_width), "rdata": In(8 * BEAT_BYTES), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
            "rready": Out(1),
        }
        if platform == "f2":
            for ch in ("aw", "ar"):
                members |= {f"{ch}burst": Out(2), f"{ch}cache": Out(4), f"{ch}lock": Out(1), f"{ch}prot": Out(3),
                            f"{ch}qos": Out(4), f"{ch}user": Out(USER_BITS)}
            members |= {"wid": Out(id_width), "wuser": Out(DATA_USER_BITS), "ruser": In(DATA_USER_BITS)}
        super().__init__(members)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def _key(self) -> tuple[int, int, str]:
        return self.id_width, self.addr_width, self.platform

    def __hash__(self) -> int:
        return hash((type(self), self._key()))

    def __repr__(self) -> str:
        return f"ShellAxiSignature({self.id_width}, {self.addr_width}, platform={self.platform!r})"


#: The name the F1 code knows the PCIS bus by.
PcisSignature = ShellAxiSignature


def _in_window(addr, base: int, size: int):
    if size & (size - 1) or base % size:
        raise AssertionError(f"window {base:#x}+{size:#x} is not a naturally aligned power of two")
    return addr[(size - 1).bit_length():] == base >> (size - 1).bit_length()


class PcisBridge(wiring.Component):
    """PCIS subordinate (`bus`) between the shell and the pipeline's `dma_in` / `events` streams.

    `ingress_depth` and `egress_depth` are FIFO entries (64-byte beats; events). See the module docstring.
    Ports: `bus` (In(ShellAxiSignature) of `platform`), `dma_in` (Out, 64-bit words), `ingress_free` (bytes),
    `counts` (Out(PcisCounts), increments each cycle); on F1 only (F2 has no egress window): `events` (In,
    512-bit events) and `events_ready` (events). `egress_depth` does not matter on F2.
    """

    def __init__(self, *, ingress_depth: int = 512, egress_depth: int = 512, platform: str = "f1") -> None:
        for name, depth in (("ingress_depth", ingress_depth), ("egress_depth", egress_depth)):
            if not isinstance(depth, int) or isinstance(depth, bool) or not 2 <= depth <= 1 << 20:
                raise ValueError(f"{name} must be an integer from 2 to 2**20, not {depth!r}")
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, not {platform!r}")
        self.ingress_depth, self.egress_depth, self.platform = ingress_depth, egress_depth, platform
        self.egress = platform == "f1"  # F2: events leave over PCIM, not by reads of this bus
        ports = {
            "bus": In(ShellAxiSignature(*ID_WIDTHS[platform], platform=platform)),
            "dma_in": Out(stream.Signature(unsigned(8 * LANE_BYTES))),
            "ingress_free": Out(32),
            "counts": Out(PcisCounts),
        }
        if self.egress:
            ports |= {"events": In(stream.Signature(unsigned(8 * BEAT_BYTES))), "events_ready": Out(32)}
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        bus = self.bus
        # The FIFO holds one entry fewer than `ingress_depth`: the entry being sent is in a register (`_lanes`).
        m.submodules.ingress = ingress = SyncFIFOBuffered(width=8 * BEAT_BYTES + LANES, depth=self.ingress_depth - 1)
        self._loaded = Signal()  # that register holds an entry
        m.d.comb += self.ingress_free.eq((self.ingress_depth - ingress.level - self._loaded) * BEAT_BYTES)
        egress = None
        if self.egress:
            m.submodules.egress = egress = SyncFIFOBuffered(width=8 * BEAT_BYTES, depth=self.egress_depth)
            m.d.comb += [
                self.events_ready.eq(egress.level),
                egress.w_data.eq(self.events.payload),
                egress.w_en.eq(self.events.valid),
                self.events.ready.eq(egress.w_rdy),
            ]
        self._writes(m, bus, ingress)
        self._lanes(m, ingress)
        self._reads(m, bus, egress)
        return m

    def _writes(self, m: Module, bus, ingress: SyncFIFOBuffered) -> None:
        """AW, then W beats into the ingress FIFO (whole lanes only), then B."""
        counts = self.counts
        to_fifo = Signal()  # this burst's beats go to the FIFO
        resp = Signal(2)
        # one-cycle increments, cleared every cycle unless set below
        m.d.sync += [counts.bad_writes.eq(0), counts.partial_lanes.eq(0), counts.ingress_overflow.eq(0)]
        strobes = [bus.wstrb[LANE_BYTES * k:LANE_BYTES * (k + 1)] for k in range(LANES)]
        whole = Cat(*(s.all() for s in strobes))
        partial = sum((s.any() & ~s.all() for s in strobes), Const(0, PcisCounts.size))
        with m.FSM(name="write"):
            with m.State("ADDRESS"):
                m.d.comb += bus.awready.eq(1)
                with m.If(bus.awvalid):
                    ok = bus.awsize == FULL_SIZE
                    if self.platform == "f2":
                        ok &= bus.awburst == INCR
                    ingress_hit = _in_window(bus.awaddr, INGRESS_BASE, INGRESS_SIZE)
                    egress_hit = _in_window(bus.awaddr, EGRESS_BASE, EGRESS_SIZE)
                    m.d.sync += [
                        bus.bid.eq(bus.awid),
                        to_fifo.eq(ingress_hit & ok),
                        resp.eq(Mux(ingress_hit & ok, OKAY, Mux(ingress_hit | egress_hit, SLVERR, DECERR))),
                        counts.bad_writes.eq(~(ingress_hit & ok)),
                    ]
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += bus.wready.eq(1)
                with m.If(bus.wvalid):
                    with m.If(to_fifo):
                        m.d.comb += [ingress.w_data.eq(Cat(bus.wdata, whole)), ingress.w_en.eq(whole.any())]
                        m.d.sync += counts.partial_lanes.eq(partial)
                        with m.If(whole.any() & ~ingress.w_rdy):
                            m.d.sync += [counts.ingress_overflow.eq(1), resp.eq(SLVERR)]
                    with m.If(bus.wlast):
                        m.next = "RESPONSE"
            with m.State("RESPONSE"):
                m.d.comb += [bus.bvalid.eq(1), bus.bresp.eq(resp)]
                with m.If(bus.bready):
                    m.next = "ADDRESS"

    def _lanes(self, m: Module, ingress: SyncFIFOBuffered) -> None:
        """The head entry, loaded into a register, out on `dma_in` lane by lane, lowest address first; the next
        entry loads in the cycle its last lane goes (no bubble). What decides the pop (an entry loaded, its
        last lane) is held in registers, so the FIFO's read enable is one level from them."""
        beat, mask = Signal(8 * BEAT_BYTES), Signal(LANES)  # the loaded entry; its lanes still to send
        loaded = self._loaded  # mask != 0
        single = Signal()  # one lane left
        first = Signal(LANES)  # the lowest lane left, one-hot
        for k in range(LANES):
            m.d.comb += first[k].eq(mask[k] & ~mask[:k].any() if k else mask[0])
        payload = 0
        for k in range(LANES):
            payload |= Mux(first[k], beat[8 * LANE_BYTES * k:8 * LANE_BYTES * (k + 1)], 0)
        m.d.comb += [self.dma_in.payload.eq(payload), self.dma_in.valid.eq(loaded)]
        sent = self.dma_in.valid & self.dma_in.ready
        m.d.comb += ingress.r_en.eq(~loaded | (self.dma_in.ready & single))
        next_mask = Signal(LANES)
        with m.If(ingress.r_en):
            m.d.comb += next_mask.eq(Mux(ingress.r_rdy, ingress.r_data[8 * BEAT_BYTES:], 0))
            m.d.sync += beat.eq(ingress.r_data[:8 * BEAT_BYTES])
        with m.Elif(sent):
            m.d.comb += next_mask.eq(mask & ~first)
        with m.Else():
            m.d.comb += next_mask.eq(mask)
        ones = sum((next_mask[k] for k in range(LANES)), Const(0, 4))
        m.d.sync += [mask.eq(next_mask), loaded.eq(next_mask.any()), single.eq(ones == 1)]

    def _reads(self, m: Module, bus, egress: SyncFIFOBuffered | None) -> None:
        """AR, then arlen + 1 beats from a registered R stage: an event each, or zeros when none waits (F2: zeros
        and an error, always)."""
        counts = self.counts
        from_fifo = Signal()
        resp = Signal(2)
        left = Signal(9)  # beats still to load into the R stage
        more = Signal()  # left != 0, held in a register (the egress FIFO's read enable is one level from it)
        m.d.sync += [counts.egress_underflow.eq(0), counts.bad_reads.eq(0)]
        with m.FSM(name="read"):
            with m.State("ADDRESS"):
                m.d.comb += bus.arready.eq(1)
                with m.If(bus.arvalid):
                    ok = Const(egress is not None) & (bus.arsize == FULL_SIZE)
                    ingress_hit = _in_window(bus.araddr, INGRESS_BASE, INGRESS_SIZE)
                    egress_hit = _in_window(bus.araddr, EGRESS_BASE, EGRESS_SIZE)
                    m.d.sync += [
                        bus.rid.eq(bus.arid),
                        left.eq(bus.arlen + 1), more.eq(1),
                        resp.eq(Mux(egress_hit & ok, OKAY, Mux(ingress_hit | egress_hit, SLVERR, DECERR))),
                        counts.bad_reads.eq(~(egress_hit & ok)),
                    ]
                    if egress is not None:
                        m.d.sync += from_fifo.eq(egress_hit & ok)
                    m.next = "DATA"
            with m.State("DATA"), m.If(~bus.rvalid | bus.rready):
                with m.If(more):
                    m.d.sync += [bus.rvalid.eq(1), bus.rresp.eq(resp), bus.rlast.eq(left == 1), left.eq(left - 1),
                                 more.eq(left != 1)]
                    if egress is None:
                        m.d.sync += bus.rdata.eq(0)
                    else:
                        have = from_fifo & egress.r_rdy
                        m.d.comb += egress.r_en.eq(have)
                        m.d.sync += [bus.rdata.eq(Mux(have, egress.r_data, 0)),
                                     counts.egress_underflow.eq(from_fifo & ~egress.r_rdy)]
                with m.Else():
                    m.d.sync += bus.rvalid.eq(0)
                    m.next = "ADDRESS"
