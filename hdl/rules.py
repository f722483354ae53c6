"""The rule engine: armed rules on the book's own top of book, FIRE events right after each BBO event.

The contract is `protocol.rules` (the oracle `model.rules.RuleTable`): the rule table is written through
the rule registers (`regs`, staged in the CSR block, and the `command` pulse of a `rule_write`); each BBO
event of a locate with armed rules is followed by the FIRE events of the rules that hold, in rule-index
order. The engine sits on the book engine's event stream:

    i (book events) ─► pass through ─► o
                          │ BBO (something armed): the input waits
                          ▼
        match ─► select + fetch ─► evaluate ─► decide ─► FIRE on o        (one rule a cycle)

A BBO event passes straight through (no added cycle) and is captured with the mask of the armed rules of
its locate (`match`); the rules of the mask are then taken lowest index first, one a cycle: fetched from
the table, evaluated (compares, the imbalance product, the relative price), decided (fire, or count why
not) and sent; what a fire takes (a fire of the rule, its disarm) is stored and counted the cycle after.
The first FIRE event leaves 4 cycles after its BBO event, the next ones one a cycle. While
a BBO's rules are worked on the input waits, so nothing overtakes the FIRE events: k + 4 cycles for a BBO
whose locate has k armed rules, one when it has none (while any rule is armed). That is the engine's cost
in throughput: many rules on busy books back the book's events up (`tickgate sim --armed` shows it in the
fire latency); carrying the events that follow a BBO through the same stages, in order, would remove it.
Rule writes take effect three cycles after the command: a host writes rules between messages (it flushes
first, as with every backend); a write racing the fire of the same entry wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.events import EventFlag, EventKind
from tickgate.protocol.rules import IMBALANCE_ONE, MAX_RULES, PriceMode, RuleCondition

from .counters import CounterBank
from .event_record import EVENT_BITS, EVENT_LAYOUTS, pack_event

__all__ = ["RULE_COUNTERS", "RuleCommand", "RuleEngine", "RuleRegisters"]

#: The staged rule registers (`rule_index`, `rule_locate`, ... `rule_fires`), 32 bits each, as the CSR holds them.
RuleRegisters = data.StructLayout(dict.fromkeys(
    ("index", "locate", "kind", "threshold", "shares", "price", "tag", "fires"), 32))
#: One `rule_write`: `arm` (bit 0) stores the staged rule at `index`, clear disarms it.
RuleCommand = data.StructLayout({"valid": 1, "arm": 1})
#: The register-map counters the engine keeps: every event it sends (`events`, the book's and its own) and the rules'.
RULE_COUNTERS = ("events", "events_fire", "rules_disarmed", "rules_held_degraded", "rules_no_price",
                 "rule_writes_refused")

#: A stored rule (its fires left are kept apart: `left`).
_Entry = data.StructLayout({"locate": 16, "condition": 3, "mode": 2, "side": 8, "tif": 8, "threshold": 32,
                            "shares": 32, "price": 32, "tag": 32})
_BBO = EVENT_LAYOUTS[EventKind.BBO]
_TIFS = b"0356E"


class RuleEngine(wiring.Component):
    """`rules` table entries; events in on `i`, the same events with FIRE events added out on `o`.

    Ports: `regs` (RuleRegisters) and `command` (RuleCommand) from the CSR block; `left` (the fires left to
    rule `regs.index`, 0 past the table: the `rule_left` gauge, one cycle behind); `counters`
    (RULE_COUNTERS, 64 bits each) and `clear_counters`.
    """

    def __init__(self, rules: int) -> None:
        if not isinstance(rules, int) or not 1 <= rules <= MAX_RULES:
            raise ValueError(f"rules must be an integer from 1 to {MAX_RULES}, not {rules!r}")
        self.rules = rules
        super().__init__({
            "i": In(stream.Signature(EVENT_BITS)),
            "o": Out(stream.Signature(EVENT_BITS)),
            "regs": In(RuleRegisters),
            "command": In(RuleCommand),
            "left": Out(32),
            "counters": Out(data.StructLayout(dict.fromkeys(RULE_COUNTERS, 64))),
            "clear_counters": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        n = self.rules
        m.submodules.bank = bank = CounterBank(RULE_COUNTERS)
        m.d.comb += [self.counters.eq(bank.count), bank.clear.eq(self.clear_counters)]
        inc = bank.inc

        entry = [Signal(_Entry, name=f"rule{j}") for j in range(n)]
        left = [Signal(32, name=f"left{j}") for j in range(n)]
        armed = Signal(n)  # left != 0, kept as its own bits

        # -- writes: taken (each field checked, the index decoded), then judged, then stored: a cycle each ----
        r = self.regs
        cond, mode, side, tif = r.kind[0:8], r.kind[8:16], r.kind[16:24], r.kind[24:32]
        checks = Cat(r.locate[:16] != 0,
                     (cond >= RuleCondition.ASK_AT_OR_BELOW) & (cond <= RuleCondition.ASK_IMBALANCE),
                     mode <= PriceMode.ASK, (side == ord("B")) | (side == ord("S")),
                     Cat(*(tif == t for t in _TIFS)).any(), r.shares != 0, r.fires != 0,
                     (mode != PriceMode.FIXED) | (r.price != 0))
        v_valid, v_arm, v_in_table = Signal(), Signal(), Signal()
        v_checks, v_select = Signal(len(checks)), Signal(n)
        v_entry, v_fires = Signal(_Entry), Signal(32)
        m.d.sync += v_valid.eq(self.command.valid)
        with m.If(self.command.valid):
            m.d.sync += [v_arm.eq(self.command.arm), v_in_table.eq(r.index < n), v_checks.eq(checks),
                         v_select.eq(Cat(*(r.index == j for j in range(n)))), v_fires.eq(r.fires),
                         v_entry.eq(Cat(r.locate[:16], cond[:3], mode[:2], side, tif, r.threshold, r.shares, r.price,
                                        r.tag))]
        ok = v_in_table & (v_checks.all() | ~v_arm)
        w_valid, w_arm = Signal(), Signal()
        w_select = Signal(n)
        w_entry, w_fires = Signal(_Entry), Signal(32)
        m.d.sync += [w_valid.eq(v_valid & ok), inc.rule_writes_refused.eq(v_valid & ~ok)]
        with m.If(v_valid):
            m.d.sync += [w_arm.eq(v_arm), w_select.eq(v_select), w_fires.eq(v_fires), w_entry.eq(v_entry)]

        # -- the pass-through, and the BBO captured with its match ------------------------------------------
        busy = Signal()  # a BBO's rules are being worked on: the input waits, `o` carries FIRE events
        bbo = Signal(_BBO)
        pending = Signal(n)  # rules of the captured BBO not yet taken
        fire_valid = Signal()
        fire_event = Signal(EVENT_BITS)
        incoming = data.View(_BBO, self.i.payload)
        with m.If(busy):
            m.d.comb += [self.o.valid.eq(fire_valid), self.o.payload.eq(fire_event)]
        with m.Else():
            m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload),
                         self.i.ready.eq(self.o.ready)]
        sent = self.o.valid & self.o.ready
        m.d.comb += [inc.events.eq(sent), inc.events_fire.eq(sent & busy)]
        with m.If(~busy & sent & (incoming.kind == EventKind.BBO) & armed.any()):
            m.d.sync += [busy.eq(1), bbo.eq(incoming),
                         pending.eq(Cat(*(armed[j] & (entry[j].locate == incoming.locate) for j in range(n))))]

        stall = fire_valid & ~self.o.ready
        # -- select + fetch: the lowest pending rule -------------------------------------------------------
        a_valid, a_index = Signal(), Signal(range(n))
        a_rule, a_left = Signal(_Entry), Signal(32)
        lowest = Signal(n)
        m.d.comb += lowest.eq(pending & (~pending + 1))
        with m.If(~stall):
            m.d.sync += a_valid.eq(pending.any())
            with m.If(pending.any()):
                m.d.sync += [
                    pending.eq(pending & ~lowest),
                    a_index.eq(_or(Const(j, len(a_index)) & lowest[j].replicate(len(a_index)) for j in range(n))),
                    a_rule.eq(_or(Value.cast(entry[j]) & lowest[j].replicate(_Entry.size) for j in range(n))),
                    a_left.eq(_or(left[j] & lowest[j].replicate(32) for j in range(n))),
                ]

        # -- evaluate: the simple conditions and the price; the imbalance product --------------------------
        bid_px, bid_sz, ask_px, ask_sz = bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz
        t = a_rule.threshold
        both = (bid_px != 0) & (ask_px != 0)
        C = RuleCondition
        simple = Signal()
        with m.Switch(a_rule.condition):
            with m.Case(C.ASK_AT_OR_BELOW):
                m.d.comb += simple.eq((ask_px != 0) & (ask_px <= t))
            with m.Case(C.BID_AT_OR_ABOVE):
                m.d.comb += simple.eq((bid_px != 0) & (bid_px >= t))
            with m.Case(C.SPREAD_AT_OR_BELOW):
                m.d.comb += simple.eq(both & (ask_px <= bid_px + t))
        ask_side = a_rule.condition == C.ASK_IMBALANCE
        touch = Mux(a_rule.mode == PriceMode.BID, bid_px, ask_px)
        relative = touch + a_rule.price.as_signed()  # 34 bits, signed
        b_valid, b_index, b_rule, b_remaining, b_last = Signal(), Signal(range(n)), Signal(_Entry), Signal(32), Signal()
        b_simple, b_imbalance, b_price, b_fixed, b_touch = Signal(), Signal(), Signal(32), Signal(), Signal()
        b_relative = Signal(relative.shape())
        b_product, b_size = Signal(64), Signal(48)
        with m.If(~stall):
            m.d.sync += [
                b_valid.eq(a_valid), b_index.eq(a_index), b_rule.eq(a_rule), b_remaining.eq(a_left - 1),
                b_last.eq(a_left == 1),
                b_simple.eq(simple),
                b_imbalance.eq(both & ((a_rule.condition == C.BID_IMBALANCE) | ask_side)),
                b_product.eq(t * Mux(ask_side, bid_sz, ask_sz)),
                b_size.eq(Mux(ask_side, ask_sz, bid_sz) << (IMBALANCE_ONE.bit_length() - 1)),
                b_price.eq(Mux(a_rule.mode == PriceMode.FIXED, a_rule.price, relative[:32])),
                b_fixed.eq(a_rule.mode == PriceMode.FIXED), b_touch.eq(touch != 0), b_relative.eq(relative),
            ]

        # -- decide: fire or not (the FIRE event goes out); what it takes and counts is stored a cycle later ---
        holds = b_simple | (b_imbalance & (b_size >= b_product))
        # a relative price is 1 to 2**32 - 1: not negative (bit 33), not past 32 bits (bit 32), not 0
        b_price_ok = b_fixed | (b_touch & ~b_relative[33] & ~b_relative[32] & (b_relative[:32] != 0))
        degraded = (bbo.flags & EventFlag.DEGRADED) != 0
        fire = b_valid & holds & ~degraded & b_price_ok
        d_valid, d_fire, d_last, d_index, d_remaining = Signal(), Signal(), Signal(), Signal(range(n)), Signal(32)
        d_degraded, d_no_price = Signal(), Signal()
        m.d.sync += d_valid.eq(0)
        with m.If(~stall):
            m.d.sync += [
                fire_valid.eq(fire),
                fire_event.eq(pack_event(
                    EventKind.FIRE, flags=bbo.flags, locate=bbo.locate, msg_type=bbo.msg_type, seq=bbo.seq,
                    ts_exch=bbo.ts_exch, ts_local=bbo.ts_local, fire_rule=b_index, fire_side=b_rule.side,
                    fire_tif=b_rule.tif, fire_shares=b_rule.shares, fire_price=b_price, fire_left=b_remaining,
                    fire_tag=b_rule.tag, fire_condition=b_rule.condition)),
                d_valid.eq(b_valid), d_fire.eq(fire), d_last.eq(b_last), d_index.eq(b_index),
                d_remaining.eq(b_remaining), d_degraded.eq(b_valid & holds & degraded),
                d_no_price.eq(b_valid & holds & ~degraded & ~b_price_ok),
            ]
        m.d.comb += [inc.rules_held_degraded.eq(d_valid & d_degraded), inc.rules_no_price.eq(d_valid & d_no_price),
                     inc.rules_disarmed.eq(d_valid & d_fire & d_last)]
        with m.If(d_valid & d_fire):
            for j in range(n):
                with m.If(d_index == j):
                    m.d.sync += left[j].eq(d_remaining)
                    with m.If(d_last):
                        m.d.sync += armed[j].eq(0)
        with m.If(busy & ~pending.any() & ~a_valid & ~b_valid & ~d_valid & ~stall):
            m.d.sync += busy.eq(0)

        # -- stores (after the fires: a write wins), and the rule_left gauge ------------------------------
        with m.If(w_valid):
            for j in range(n):
                with m.If(w_select[j]):
                    m.d.sync += [left[j].eq(Mux(w_arm, w_fires, 0)), armed[j].eq(w_arm)]
                    with m.If(w_arm):
                        m.d.sync += entry[j].eq(w_entry)
        m.d.sync += self.left.eq(Mux(r.index < n, Array(left)[r.index[:max(1, (n - 1).bit_length())]], 0))
        return m


def _or(values: Iterable[Value]) -> Value:
    """The bitwise OR of `values` (an AND-OR multiplexer when each is masked by a one-hot bit)."""
    out = None
    for v in values:
        out = v if out is None else out | v
    return out
