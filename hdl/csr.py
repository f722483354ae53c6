"""The card's registers on AXI4-Lite, generated from `protocol.registers.REGISTER_MAP`.

Every register of the map is served: read-write registers are stored here and drive `cfg`; read-only
ones read `id`, `map_version`, the capacities (constructor constants), `status` and `counters`. Rules:

- A 64-bit counter is two words, low word first. Reading its low word latches its high word; the next read
  of that counter's high word returns the latched half, so low-then-high is one consistent 64-bit value
  while the counter runs. A high word read without a preceding low read of the same counter is live.
- Counters of the map that this card does not have (not given to the constructor) read 0.
- `lines` keeps bit 0 (two lines) and bits 8-15 (the window), driving the line arbiter (`hdl.lines`).
- The rule table (`protocol.rules`, `hdl.rules`): `rule_index` and the staged fields are stored whole and
  drive `cfg.rule`; writing `rule_write` pulses `rule_write` for one cycle (`arm`: bit 0) and reads 0;
  `cap_rules` is the constructor's, `rule_left` a gauge.
- Writing `control` with bit 1 set pulses `clear` for one cycle (the cycle after the write); bit 1 reads 0.
- The host event ring (F2, `protocol.f2_map`): `ring_base_*` keep bits 12-63 (the 4 KiB page; bits 0-11 read
  0), `ring_head_*` bits 6-63 (the 64-byte line), `ring_size_log2` bits 0-4, `ring_control` bit 0 (enable).
  Writing `ring_control` with bit 1 set pulses `ring_reset` for one cycle and zeroes `ring_consumer` (both
  indices restart at 0); bit 1 reads 0. `ring_producer` is a gauge of the ring writer.
- Write strobes select bytes; bits a register does not implement read 0 and ignore writes.
- Responses: OKAY for reads of any register and writes of read-write ones. SLVERR (data 0, nothing changed)
  for an address outside the map or not word-aligned, and for writes to read-only registers.
- One transaction at a time per direction: AW and W are taken in either order (each held until the write
  is done and its response accepted).
- A read is three registered stages, so no path runs from the address pins, nor through the whole read
  multiplexer, in one cycle: the address is registered; then each group of 16 words selects its word by the
  address's low 4 bits (and the address is decoded: served or not, which 64-bit register); then the group is
  selected and RDATA registered. RVALID rises three cycles after the address is taken, with the values of
  the cycle after it (both words of a 64-bit register sampled in one cycle, so its latched high half agrees).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP, counter_names

from .lines import LinesConfig
from .moldudp64 import SessionConfig, SessionStatus
from .network_decoder import NetworkConfig
from .rules import RuleCommand, RuleRegisters

__all__ = ["ADDR_WIDTH", "CAPACITIES", "CONFIG_BITS", "GAUGES", "OKAY", "SLVERR", "WIDE_GAUGES", "AxiLiteSignature",
           "Bits", "CsrBlock", "CsrConfig", "RingConfig", "SymbolWrite", "implemented"]

#: Byte address bits that span the register map.
ADDR_WIDTH = (REGISTER_MAP.size - 1).bit_length()
OKAY, SLVERR = 0b00, 0b10
#: Read-only registers whose values are constructor constants.
CAPACITIES = ("cap_orders", "cap_levels", "cap_symbols", "cap_rules")
CLEAR_BIT = REGISTER_MAP["control"].field("clear_counters").lo
RING_RESET_BIT = REGISTER_MAP["ring_control"].field("reset").lo
SYMBOL_SET_BIT = REGISTER_MAP["symbol_write"].field("set").lo
RULE_ARM_BIT = REGISTER_MAP["rule_write"].field("arm").lo
PAGE_BITS = REGISTER_MAP["ring_base_lo"].field("page").lo  # low address bits of the ring base that are zero (12)
LINE_BITS = REGISTER_MAP["ring_head_lo"].field("line").lo  # low address bits of the head line that are zero (6)
GROUP_BITS = 4  # a read selects among 2**GROUP_BITS words, then among the groups of them (two stages)


class AxiLiteSignature(wiring.Signature):
    """AXI4-Lite with 32-bit data and no AxPROT, seen from the manager: a subordinate has `In(...)` of it.

    Member names are the AXI spec's (`awaddr`, `awvalid`, `awready`, ...), so a Verilog wrapper maps the
    ports (`bus__awaddr`, ...) one to one onto a shell's (the F1 shell's `sh_ocl_awaddr`, ...).
    """

    def __init__(self, addr_width: int) -> None:
        if not isinstance(addr_width, int):
            raise TypeError(f"address width must be an integer, not {addr_width!r}")
        if not 2 < addr_width <= 64:
            raise ValueError(f"address width must be 3 to 64, not {addr_width}")
        self.addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.addr_width == self.addr_width

    def __hash__(self) -> int:
        return hash((type(self), self.addr_width))

    def __repr__(self) -> str:
        return f"AxiLiteSignature({self.addr_width})"


#: The host event ring as the host set it (F2): addresses as page / line numbers, the host's consumer index.
RingConfig = data.StructLayout({
    "enable": 1,
    "base_page": 64 - PAGE_BITS,  # ring base address >> 12
    "head_line": 64 - LINE_BITS,  # head line address >> 6
    "size_log2": REGISTER_MAP["ring_size_log2"].field("value").width,
    "consumer": 32,
})

#: What the read-write registers drive: control bits, the session tracker's and the front end's configuration.
CsrConfig = data.StructLayout({
    "enable": 1,
    "track_all_symbols": 1,
    "level_events": 1,
    "session": SessionConfig,
    "net": NetworkConfig,
    "symbol_index": 16,
    "symbol_name": 64,
    "ring": RingConfig,
    "rule": RuleRegisters,
    "lines": LinesConfig,
})

#: Read-only registers whose values are live inputs (`gauges` port), 32 bits each.
GAUGES = ("orders_live", "symbols_live", "events_ready", "ingress_free", "latency_min", "latency_max", "ring_producer",
          "rule_left")
#: Read-only 64-bit registers that are not counters (`latency` port).
WIDE_GAUGES = ("latency_count", "latency_sum")

#: A symbol-name table write: `set` stores `cfg.symbol_name` at `cfg.symbol_index`, clear empties the entry.
SymbolWrite = data.StructLayout({"valid": 1, "set": 1})


@dataclass(frozen=True)
class Bits:
    """Register bits `reg_lo`..`reg_lo + width - 1` drive bits `field_lo`.. of the `cfg` field `path`."""

    path: str  # dotted, e.g. "session.first_sequence"
    width: int
    reg_lo: int = 0
    field_lo: int = 0


#: Where each stored field of a read-write register goes: (register, field) -> (`cfg` path, its first bit).
#: Positions and widths are the fields' own (`protocol.registers`); `w1` fields are commands, not stored.
_TARGETS: dict[tuple[str, str], tuple[str, int]] = {
    ("control", "enable"): ("enable", 0),
    ("control", "track_all"): ("track_all_symbols", 0),
    ("control", "level_events"): ("level_events", 0),
    ("session_0", "value"): ("session.session", 0),
    ("session_1", "value"): ("session.session", 32),
    ("session_2", "value"): ("session.session", 64),
    ("session_en", "en"): ("session.session_en", 0),
    ("first_sequence_lo", "value"): ("session.first_sequence", 0),
    ("first_sequence_hi", "value"): ("session.first_sequence", 32),
    ("first_sequence_en", "en"): ("session.first_sequence_en", 0),
    ("dst_ip", "value"): ("net.dst_ip", 0),
    ("dst_ip_check", "en"): ("net.dst_ip_check", 0),
    ("dst_port", "value"): ("net.dst_port", 0),
    ("dst_port_check", "en"): ("net.dst_port_check", 0),
    ("ignore_ip_checksum", "en"): ("net.ignore_ip_checksum", 0),
    ("symbol_index", "value"): ("symbol_index", 0),
    ("symbol_name_lo", "value"): ("symbol_name", 0),
    ("symbol_name_hi", "value"): ("symbol_name", 32),
    ("ring_base_lo", "page"): ("ring.base_page", 0),
    ("ring_base_hi", "value"): ("ring.base_page", 32 - PAGE_BITS),
    ("ring_head_lo", "line"): ("ring.head_line", 0),
    ("ring_head_hi", "value"): ("ring.head_line", 32 - LINE_BITS),
    ("ring_size_log2", "value"): ("ring.size_log2", 0),
    ("ring_control", "enable"): ("ring.enable", 0),
    ("ring_consumer", "value"): ("ring.consumer", 0),
    ("lines", "two_lines"): ("lines.two", 0),
    ("lines", "window"): ("lines.window", 0),
    ("rule_index", "value"): ("rule.index", 0),
    ("rule_locate", "value"): ("rule.locate", 0),
    ("rule_kind", "condition"): ("rule.kind", 0),
    ("rule_kind", "price_mode"): ("rule.kind", 8),
    ("rule_kind", "side"): ("rule.kind", 16),
    ("rule_kind", "tif"): ("rule.kind", 24),
    ("rule_threshold", "value"): ("rule.threshold", 0),
    ("rule_shares", "value"): ("rule.shares", 0),
    ("rule_price", "value"): ("rule.price", 0),
    ("rule_tag", "value"): ("rule.tag", 0),
    ("rule_fires", "value"): ("rule.fires", 0),
}

def _config_bits() -> dict[str, tuple[Bits, ...]]:
    out: dict[str, tuple[Bits, ...]] = {}
    used: set[tuple[str, str]] = set()
    for r in REGISTER_MAP:
        if r.access != "rw":
            continue
        stored = [f for f in r.fields if f.access == "rw"]
        if missing := [f.name for f in stored if (r.name, f.name) not in _TARGETS]:
            raise ValueError(f"CsrBlock does not know where fields {missing} of register {r.name} go")
        used |= {(r.name, f.name) for f in stored}
        out[r.name] = tuple(Bits(_TARGETS[r.name, f.name][0], f.width, reg_lo=f.lo,
                                 field_lo=_TARGETS[r.name, f.name][1]) for f in stored)
    if stale := sorted(set(_TARGETS) - used):
        raise ValueError(f"CsrBlock's field targets name no stored field of a read-write register: {stale}")
    return out


#: Every read-write register of the map: which `cfg` bits its stored fields hold (commands hold none).
CONFIG_BITS: dict[str, tuple[Bits, ...]] = _config_bits()


def implemented(name: str) -> int:
    """The mask of the bits read-write register `name` stores."""
    return sum(((1 << b.width) - 1) << b.reg_lo for b in CONFIG_BITS[name])


def _key(offset: int) -> int:
    """The value of `Cat(aligned, word index)` that selects the word at byte `offset`."""
    return (offset // 4) << 1 | 1


def _check_map() -> None:
    for r in REGISTER_MAP:
        wide = r.group == "counter" or r.name in WIDE_GAUGES
        served = (wide or r.name in ("id", "map_version", "status", *CAPACITIES, *GAUGES)
                  if r.access == "ro" else r.name in CONFIG_BITS)
        if not served or r.width != (64 if wide else 32):
            raise ValueError(f"CsrBlock does not know how to serve register {r.name} ({r.access} {r.width})")
    if extra := set(CONFIG_BITS) - {r.name for r in REGISTER_MAP if r.access == "rw"}:
        raise ValueError(f"CONFIG_BITS names registers not in the map: {sorted(extra)}")


class CsrBlock(wiring.Component):
    """AXI4-Lite subordinate (`bus`) serving `REGISTER_MAP`; see the module docstring for the rules.

    Constructor: `counters` names the 64-bit counters this card has (from `protocol.registers.COUNTERS`);
    `cap_*` are the capacities the card reports; `addr_width` is the byte address width of `bus`.

    Ports: `bus` (In(AxiLiteSignature)), `counters` (In, a 64-bit field per counter name), `status`
    (In(SessionStatus)), `gauges` (In, 32 bits per `GAUGES` name), `latency` (In, 64 bits per `WIDE_GAUGES`
    name), `cfg` (Out(CsrConfig)), `clear` (Out(1), one cycle per clear command), `symbol_write`
    (Out(SymbolWrite), one cycle per write of the `symbol_write` register), `rule_write` (Out(RuleCommand), one
    cycle per write of the `rule_write` register); with `ring` (an F2 card: a ring
    writer, `hdl.pcim`, follows `cfg.ring`) also `ring_reset` (Out(1), one cycle per ring reset command).
    """

    def __init__(self, counters: Sequence[str], *, addr_width: int = ADDR_WIDTH, cap_orders: int = 0,
                 cap_levels: int = 0, cap_symbols: int = 0, cap_rules: int = 0, ring: bool = False) -> None:
        _check_map()
        names = tuple(counters)
        if unknown := [n for n in names if n not in counter_names()]:
            raise ValueError(f"not counters of protocol.registers.COUNTERS: {unknown}")
        if len(set(names)) != len(names):
            raise ValueError("a counter is named twice")
        if not names:
            raise ValueError("a CSR block needs at least one counter")
        if not isinstance(addr_width, int) or not ADDR_WIDTH <= addr_width <= 64:
            raise ValueError(f"address width must be {ADDR_WIDTH} (the map's) to 64, not {addr_width!r}")
        self._caps = dict(zip(CAPACITIES, (cap_orders, cap_levels, cap_symbols, cap_rules), strict=True))
        for name, value in self._caps.items():
            if not isinstance(value, int) or not 0 <= value < 1 << 32:
                raise ValueError(f"{name} must fit 32 bits, not {value!r}")
        self.counter_names = names
        self.ring = ring
        ports = {
            "bus": In(AxiLiteSignature(addr_width)),
            "counters": In(data.StructLayout(dict.fromkeys(names, 64))),
            "status": In(SessionStatus),
            "gauges": In(data.StructLayout(dict.fromkeys(GAUGES, 32))),
            "latency": In(data.StructLayout(dict.fromkeys(WIDE_GAUGES, 64))),
            "cfg": Out(CsrConfig),
            "clear": Out(1),
            "symbol_write": Out(SymbolWrite),
            "rule_write": Out(RuleCommand),
        }
        if ring:
            ports["ring_reset"] = Out(1)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        bus = self.bus
        store = self._store = {name: Signal(32, name=f"reg_{name}") for name in CONFIG_BITS}
        for name, bits in CONFIG_BITS.items():
            for b in bits:
                target = self.cfg
                for part in b.path.split("."):
                    target = target[part]
                m.d.comb += Value.cast(target)[b.field_lo:b.field_lo + b.width].eq(
                    store[name][b.reg_lo:b.reg_lo + b.width])

        # Write: hold AW and W until both are here, write, answer on B.
        aw_full, w_full = Signal(), Signal()
        aw_word, aw_aligned = Signal(len(bus.awaddr) - 2), Signal()
        w_data, w_strb = Signal(32), Signal(4)
        m.d.comb += [bus.awready.eq(~aw_full), bus.wready.eq(~w_full)]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += [aw_full.eq(1), aw_word.eq(bus.awaddr[2:]), aw_aligned.eq(bus.awaddr[:2] == 0)]
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_full.eq(1), w_data.eq(bus.wdata), w_strb.eq(bus.wstrb)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        m.d.sync += [self.clear.eq(0), self.symbol_write.valid.eq(0), self.rule_write.valid.eq(0)]
        if self.ring:
            m.d.sync += self.ring_reset.eq(0)
        byte_mask = Cat(*(w_strb[i].replicate(8) for i in range(4)))
        with m.If(aw_full & w_full & ~bus.bvalid):
            m.d.sync += [aw_full.eq(0), w_full.eq(0), bus.bvalid.eq(1), bus.bresp.eq(SLVERR)]
            with m.Switch(Cat(aw_aligned, aw_word)):
                for name, reg in store.items():
                    with m.Case(_key(REGISTER_MAP[name].offset)):
                        mask = byte_mask & implemented(name)
                        m.d.sync += [reg.eq(reg & ~mask | w_data & mask), bus.bresp.eq(OKAY)]
                        if name == "control":
                            m.d.sync += self.clear.eq(w_strb[CLEAR_BIT // 8] & w_data[CLEAR_BIT])
                        if name == "symbol_write":
                            m.d.sync += [self.symbol_write.valid.eq(1),
                                         self.symbol_write.set.eq(w_data[SYMBOL_SET_BIT])]
                        if name == "rule_write":
                            m.d.sync += [self.rule_write.valid.eq(1), self.rule_write.arm.eq(w_data[RULE_ARM_BIT])]
                        if name == "ring_control":
                            with m.If(w_strb[RING_RESET_BIT // 8] & w_data[RING_RESET_BIT]):
                                m.d.sync += store["ring_consumer"].eq(0)
                                if self.ring:
                                    m.d.sync += self.ring_reset.eq(1)

        self._read(m)
        return m

    def _words(self) -> dict[int, _Word]:
        """{word index: what it reads} for every word of the map (a 64-bit register is two words)."""
        constants = {"id": ID_MAGIC, "map_version": MAP_VERSION, **self._caps}
        wide = {**{n: self.counters[n] for n in self.counter_names},
                **{n: self.latency[n] for n in WIDE_GAUGES}}
        words: dict[int, _Word] = {}
        for r in REGISTER_MAP:
            w = r.offset // 4
            if r.width == 64:
                if r.name not in wide:  # a counter this card does not have: both words read 0
                    words[w] = words[w + 1] = _Word(Const(0, 32))
                    continue
                index = list(wide).index(r.name)
                value = wide[r.name]
                words[w] = _Word(value[:32], high=value[32:], wide=index)
                words[w + 1] = _Word(value[32:], wide=index, is_high=True)
            elif r.access == "rw":
                words[w] = _Word(self._store[r.name])
            elif r.name == "status":
                words[w] = _Word(Value.cast(self.status))
            elif r.name in GAUGES:
                words[w] = _Word(self.gauges[r.name])
            else:
                words[w] = _Word(Const(constants[r.name], 32))
        return words

    def _read(self, m: Module) -> None:
        """The read path, three registered stages from the address to RDATA (see the module docstring)."""
        bus = self.bus
        words = self._words()
        n_wide = 1 + max((w.wide for w in words.values() if w.wide is not None), default=0)
        groups = sorted({w >> GROUP_BITS for w in words})

        # Stage 1: the address, as it came.
        busy = Signal()  # from the address taken until the response is
        s1_valid, s1_aligned, s1_word = Signal(), Signal(), Signal(len(bus.araddr) - 2)
        m.d.comb += bus.arready.eq(~busy)
        m.d.sync += s1_valid.eq(bus.arvalid & bus.arready)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [busy.eq(1), s1_aligned.eq(bus.araddr[:2] == 0), s1_word.eq(bus.araddr[2:])]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += [busy.eq(0), bus.rvalid.eq(0)]

        # Stage 2: each group of 2**GROUP_BITS words selects its word (and the high half of a 64-bit register
        # whose low word that is); what the address is, decoded.
        lane = s1_word[:GROUP_BITS]
        s2_valid, s2_ok, s2_low, s2_high = Signal(), Signal(), Signal(), Signal()
        s2_group = Signal(range(len(groups)))
        s2_wide = Signal(range(n_wide))
        s2_data = [Signal(32, name=f"read_group{g}") for g in groups]
        s2_hi = {i: Signal(32, name=f"read_group{g}_hi") for i, g in enumerate(groups)  # groups with 64-bit words
                 if any(words[w].high is not None for w in words if w >> GROUP_BITS == g)}
        m.d.sync += [s2_valid.eq(s1_valid), s2_ok.eq(0), s2_low.eq(0), s2_high.eq(0), s2_group.eq(0), s2_wide.eq(0)]
        for i, g in enumerate(groups):
            with m.Switch(lane):
                for w in range(g << GROUP_BITS, (g + 1) << GROUP_BITS):
                    if w in words:
                        with m.Case(w & ((1 << GROUP_BITS) - 1)):
                            m.d.sync += s2_data[i].eq(words[w].value)
                            if words[w].high is not None:
                                m.d.sync += s2_hi[i].eq(words[w].high)
                with m.Default():
                    m.d.sync += s2_data[i].eq(0)
        with m.If(s1_aligned), m.Switch(s1_word):
            for w, word in words.items():
                with m.Case(w):
                    m.d.sync += [s2_ok.eq(1), s2_group.eq(groups.index(w >> GROUP_BITS))]
                    if word.wide is not None:
                        m.d.sync += [s2_wide.eq(word.wide), s2_low.eq(not word.is_high), s2_high.eq(word.is_high)]

        # Stage 3: the group's word, or the latched high half; RDATA and RVALID.
        latch_hi = Signal(32)  # high word of the 64-bit register whose low word was read last
        latch_index = Signal(range(n_wide))
        latch_valid = Signal()
        selected, selected_hi = Signal(32), Signal(32)
        with m.Switch(s2_group):
            for i in range(len(groups)):
                with m.Case(i):
                    m.d.comb += selected.eq(s2_data[i])
                    if i in s2_hi:
                        m.d.comb += selected_hi.eq(s2_hi[i])
        latched = s2_high & latch_valid & (latch_index == s2_wide)
        with m.If(s2_valid):
            m.d.sync += [bus.rvalid.eq(1), bus.rresp.eq(Mux(s2_ok, OKAY, SLVERR)),
                         bus.rdata.eq(Mux(s2_ok, Mux(latched, latch_hi, selected), 0))]
            with m.If(s2_low):
                m.d.sync += [latch_hi.eq(selected_hi), latch_index.eq(s2_wide), latch_valid.eq(1)]


@dataclass(frozen=True)
class _Word:
    """What one 32-bit word of the map reads: `value`; of a 64-bit register, its index among them, which half
    this is and (the low word) the high half to latch."""

    value: Value
    high: Value | None = None
    wide: int | None = None
    is_high: bool = False
