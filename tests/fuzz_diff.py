"""Differential fuzzing: hostile MoldUDP64 / ITCH streams and card configurations into the reference model, the
C++ card and (a sample) the Verilated pipeline; events (every byte but ts_local) and every counter must agree.

Why hypothesis (not atheris): the oracle here is another implementation, not a crash, so what matters is the
shape of the input (valid-looking streams bent at one field, one length, one sequence number at a time) and
a small failing case to read when two implementations disagree. Hypothesis builds structured cases from the
protocol tables and shrinks a disagreement to a few packets; it runs under pytest with a fixed seed
(`make test`) and needs no instrumented interpreter or libFuzzer build. atheris' coverage guidance would
mostly explore the Python model's branches, which the structure below reaches anyway. The C++ card's memory
errors are the sanitizers' job: `make fuzz` runs the same cases against an ASan + UBSan build of the
extension (`build/asan/`, loaded in place of `tickgate._driver` when `TICKGATE_DRIVER_SO` names it).

    python -m tests.fuzz_diff --packets 1000000 --seed 1 [--rtl-every 0]    # the soak (`make fuzz`)
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib.util
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st


def _load_driver_override() -> None:
    """Load the extension named by TICKGATE_DRIVER_SO (the sanitizer build) as tickgate._driver."""
    path = os.environ.get("TICKGATE_DRIVER_SO")
    if not path or "tickgate._driver" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("tickgate._driver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tickgate._driver"] = module
    spec.loader.exec_module(module)


_load_driver_override()

from tickgate.host.backend import open_backend  # noqa: E402
from tickgate.protocol import moldudp64 as mold  # noqa: E402
from tickgate.protocol.config import BookGeometry, CardConfig, OrderTableConfig  # noqa: E402
from tickgate.protocol.events import comparable  # noqa: E402
from tickgate.protocol.itch_spec import BY_TYPE, MESSAGES  # noqa: E402
from tickgate.protocol.rules import PriceMode, Rule, RuleCondition  # noqa: E402

__all__ = ["Case", "HypothesisDraw", "RandomDraw", "ab_case", "case", "check", "check_rtl", "rtl_case", "soak"]

U64 = 1 << 64
SESSIONS = (b"TICKGATE01", b"TICKGATE02", b"OTHER00001")
SYMBOLS = ("AAA", "BBBB", "CC", "DDDDDDDD")
LOCATES = (0, 1, 2, 3, 4, 0xFFFF)
REF_POOL = 12

# -- drawing: one generator, two sources ------------------------------------------------------------------


class Draw:
    """Where a case's choices come from: `int(lo, hi)` (inclusive), `pick(seq)`, `bytes(lo, hi)`."""

    def int(self, lo: int, hi: int) -> int: ...

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bytes(self, lo: int, hi: int) -> bytes:
        return bytes(self.int(0, 255) for _ in range(self.int(lo, hi)))


class HypothesisDraw(Draw):
    """Choices drawn by hypothesis (`st.data()`): a failing case shrinks to a small one."""

    def __init__(self, data) -> None:
        self.data = data

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def bytes(self, lo: int, hi: int) -> bytes:
        return self.data.draw(st.binary(min_size=lo, max_size=hi))


class RandomDraw(Draw):
    """Choices from a seeded `random.Random`: the soak's speed (a case is replayed from its seed)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, seq):
        return self.rng.choice(seq)

    def bytes(self, lo: int, hi: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))


# -- ITCH messages: every field from its edges --------------------------------------------------------------


def _uint(d: Draw, width: int) -> int:
    top = (1 << 8 * width) - 1
    if d.int(0, 1):
        return d.pick((0, 1, 2, top - 1, top, top >> 1, (top >> 1) + 1))
    return d.int(0, top)


_EDGE_SHARES = (0, 1, 2, 100, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 31)
_EDGE_PRICES = (0, 1, 0xFFFF_FFFF, 999_900, 1_000_000, 1_000_100, 1_000_200)
_EDGE_REFS = (0, U64 - 1, 1 << 63)
_REF_FIELDS = ("order_reference_number", "original_order_reference_number", "new_order_reference_number")
_SHARE_FIELDS = ("shares", "executed_shares", "cancelled_shares")
# book-moving types weighted up; every type appears, and (below) unknown type bytes
_TYPES = tuple("AAAAFEECXDDUUPQHSRR") + tuple(m.type for m in MESSAGES)
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ "


def _value(d: Draw, name: str, kind: str, width: int) -> bytes:
    if kind == "alpha":
        if name == "stock" and d.int(0, 3):
            return d.pick(SYMBOLS).encode().ljust(width)
        if name == "buy_sell_indicator":
            return d.pick((b"B", b"S", b"B", b"S", b" ", b"X"))
        if d.int(0, 3):
            return bytes(d.pick(_LETTERS) for _ in range(width))
        return d.bytes(width, width)
    if name == "stock_locate":
        v = d.pick(LOCATES)
    elif name in _REF_FIELDS:
        v = d.int(1, REF_POOL) if d.int(0, 7) else d.pick(_EDGE_REFS)
    elif name in _SHARE_FIELDS:
        v = d.int(1, 1000) if d.int(0, 2) else d.pick(_EDGE_SHARES)
    elif kind == "price4":
        v = d.int(9990, 10010) * 100 if d.int(0, 2) else d.pick(_EDGE_PRICES)
    else:
        v = _uint(d, width)
    return v.to_bytes(width, "big")


def message(d: Draw) -> bytes:
    """One ITCH message: a known type with each field drawn from its edges, or an unknown type byte; then, now
    and again, a wrong length (cut short, grown, or empty)."""
    if d.int(0, 40) == 0:
        return bytes([d.int(0, 255)]) + d.bytes(0, 60)
    spec = BY_TYPE[d.pick(_TYPES)]
    buf = bytearray(spec.length)
    buf[0] = ord(spec.type)
    for f in spec.fields[1:]:
        buf[f.offset:f.offset + f.width] = _value(d, f.name, f.kind, f.width)
    cut = d.int(0, 30)
    if cut == 0:
        return bytes(buf[:d.int(0, len(buf) - 1)])
    if cut == 1:
        return bytes(buf) + d.bytes(1, 8)
    return bytes(buf)


# -- MoldUDP64 packets: sequence numbers, counts, sessions, lengths -----------------------------------------

FAULTS = ("gap", "huge_gap", "wrap", "duplicate", "overlap", "reorder", "wrong_session", "heartbeat",
          "end_of_session", "count_more", "count_less", "count_zero", "truncate", "garbage", "oversize", "empty",
          "header_only", "short_header", "block_past_end")


def _packet(session: bytes, seq: int, msgs: list[bytes]) -> bytes:
    return mold.HEADER_STRUCT.pack(session, seq % U64, len(msgs)) + b"".join(
        len(m).to_bytes(2, "big") + m for m in msgs)


def packets(d: Draw, session: bytes, max_packets: int = 12) -> list[bytes]:
    """A stream of packets numbered from a drawn start, bent by one drawn fault per packet (most have none)."""
    start = d.pick((1, d.int(1, 1 << 20), d.int(U64 - 40, U64 - 1), 0, U64 - 1))
    seq, sess = start, session
    out: list[bytes] = []
    for _ in range(d.int(1, max_packets)):
        msgs = [message(d) for _ in range(d.int(1, 8))]
        fault = d.pick(FAULTS) if d.int(0, 3) == 0 else "none"
        if fault == "gap":
            seq += d.int(1, 50)
        elif fault == "huge_gap":
            seq += d.int(1 << 32, U64 - 1)
        elif fault == "wrap":
            seq = U64 - d.int(1, 4)
        pkt = _packet(sess, seq, msgs)
        if fault == "duplicate" and out:
            pkt = d.pick(out)
        elif fault == "overlap":
            pkt = _packet(sess, max(0, seq - d.int(1, 4)), msgs)
        elif fault == "wrong_session":
            pkt = _packet(d.pick(SESSIONS), seq, msgs)
        elif fault == "heartbeat":
            pkt = mold.HEADER_STRUCT.pack(sess, seq % U64, 0) + d.pick((b"", b"\0"))
        elif fault == "end_of_session":
            out.append(mold.HEADER_STRUCT.pack(sess, seq % U64, mold.END_OF_SESSION))
            sess, seq = d.pick(SESSIONS), d.int(0, 1000)
            continue
        elif fault in ("count_more", "count_less", "count_zero"):
            count = {"count_more": len(msgs) + 1, "count_less": len(msgs) - 1, "count_zero": 0}[fault]
            pkt = mold.HEADER_STRUCT.pack(sess, seq % U64, count) + pkt[mold.HEADER_LEN:]
        elif fault == "truncate":
            pkt = pkt[:d.int(mold.HEADER_LEN, len(pkt) - 1)]
        elif fault == "garbage":
            pkt += d.bytes(1, 9)
        elif fault == "oversize":
            pkt += bytes(mold.MAX_PACKET + 1 - len(pkt) + d.int(0, 3))
        elif fault == "empty":
            pkt = b""
        elif fault == "header_only":
            pkt = pkt[:mold.HEADER_LEN]
        elif fault == "short_header":
            pkt = pkt[:d.int(1, mold.HEADER_LEN - 1)]
        elif fault == "block_past_end":
            pkt = pkt[:mold.HEADER_LEN] + (0xFFFF).to_bytes(2, "big") + pkt[mold.HEADER_LEN + 2:]
        if fault == "reorder" and out:
            out.insert(len(out) - 1, pkt)
        else:
            out.append(pkt)
        seq += len(msgs)
    return out


# -- card configurations -------------------------------------------------------------------------------------


def _maybe(d: Draw, make):
    return make() if d.int(0, 1) else None


def rule(d: Draw) -> Rule | None:
    """A rule on one of the stream's locates, thresholds and offsets at their edges (or None: an empty entry)."""
    if not d.int(0, 3):
        return None
    mode = d.pick(tuple(PriceMode))
    edge = (0, 1, 2, 100, 10_000, 1 << 16, 3 << 16, (1 << 32) - 1)
    price = (d.pick((1, 100, (1 << 32) - 1)) if mode is PriceMode.FIXED
             else d.pick((0, 1, -1, -100, 100, -(1 << 31), (1 << 31) - 1)))
    return Rule(d.pick(LOCATES[1:]), d.pick(tuple(RuleCondition)), d.pick(edge) if d.int(0, 1) else d.int(0, 1 << 20),
                d.pick(("B", "S")), d.int(1, 1000), price, mode, d.pick(("0", "3", "E")), d.int(0, (1 << 32) - 1),
                d.pick((1, 2, 3, 1 << 20)))


def config(d: Draw) -> CardConfig:
    """Tiny order tables, few levels and book slots, a symbol subset, a fixed session or first sequence, a
    small rule table."""
    max_levels = _maybe(d, lambda: d.int(1, 4))
    max_rules = d.int(1, 4)
    return CardConfig(
        max_rules=max_rules, rules=tuple(rule(d) for _ in range(d.int(0, max_rules))),
        symbols=_maybe(d, lambda: frozenset(d.pick(SYMBOLS) for _ in range(d.int(0, 3)))),
        order_table=_maybe(d, lambda: OrderTableConfig(d.int(1, 3), d.int(1, 2), d.int(0, 2))),
        max_levels=max_levels, max_symbols=_maybe(d, lambda: d.int(1, 3)), session=_maybe(d, lambda: d.pick(SESSIONS)),
        first_sequence=_maybe(d, lambda: d.pick((0, 1, U64 - 1, d.int(0, U64 - 1)))),
        level_events=max_levels is not None and bool(d.int(0, 1)))


@dataclass
class Case:
    """A configuration and its packets: bytes (one line), or (line, bytes) of lines A (0) and B (1), then the
    end of input (with two lines)."""

    config: CardConfig
    packets: list[bytes] | list[tuple[int, bytes]]


def case(d: Draw, max_packets: int = 12) -> Case:
    c = config(d)
    return Case(c, packets(d, c.session or d.pick(SESSIONS), max_packets))


# -- A/B lines: two copies of one (bent) stream ----------------------------------------------------------------

WINDOWS = (0, 1, 2, 3, 4, 16, 255)


def lines(d: Draw, stream: list[bytes]) -> list[tuple[int, bytes]]:
    """Lines A and B of `stream`: each loses packets independently (now and then both the same one), repeats one
    now and then, runs behind the other by a few packets, may go dead part way; neighbours of the two lines are
    swapped at random (reordering between lines)."""
    n = len(stream)
    rate = d.pick((0, 2, 4, 10))  # loss: 1 in `rate` packets per line (0: none)
    both = {i for i in range(n) if d.int(0, 9) == 0}
    lost = [{i for i in range(n) if (rate and d.int(1, rate) == 1) or i in both} for _ in "ab"]
    dead = d.pick((None, 0, 1)) if d.int(0, 3) == 0 else None
    dead_from = d.int(0, n)
    lag = d.int(0, 6)  # line B this many packets behind A
    timed: list[tuple[float, int, bytes]] = []
    for i, p in enumerate(stream):
        for line, at in ((0, i), (1, i + lag)):
            if i in lost[line] or (line == dead and i >= dead_from):
                continue
            timed.append((at + 0.5 * line, line, p))
            if d.int(0, 15) == 0:
                timed.append((at + d.int(1, 4) + 0.25, line, p))  # repeated on the line, a little later
    timed.sort(key=lambda t: t[0])
    out = [(line, p) for _t, line, p in timed]
    for _ in range(d.int(0, 3)):
        if len(out) > 1:
            k = d.int(0, len(out) - 2)
            out[k], out[k + 1] = out[k + 1], out[k]
    return out


def ab_case(d: Draw, max_packets: int = 12) -> Case:
    """An A/B case: a configuration with a line window, and two lines of a stream `packets` bends."""
    c = config(d)
    c = CardConfig(symbols=c.symbols, order_table=c.order_table, max_levels=c.max_levels, max_symbols=c.max_symbols,
                   session=c.session, first_sequence=c.first_sequence, level_events=c.level_events,
                   line_window=d.pick(WINDOWS))
    return Case(c, lines(d, packets(d, c.session or d.pick(SESSIONS), max_packets)))


def rtl_geometry() -> BookGeometry:
    return BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))


def rtl_case(d: Draw, max_packets: int = 12) -> Case:
    """A case for the pipeline: the configuration's capacities are the built geometry's (`rtl_geometry`)."""
    g = rtl_geometry()
    session = _maybe(d, lambda: d.pick(SESSIONS))
    c = CardConfig(symbols=_maybe(d, lambda: frozenset(d.pick(SYMBOLS) for _ in range(d.int(0, 3)))),
                   order_table=g.order_table, max_levels=g.levels, max_symbols=g.symbols, session=session,
                   first_sequence=_maybe(d, lambda: d.pick((0, 1, U64 - 1))), level_events=bool(d.int(0, 1)))
    return Case(c, packets(d, session or d.pick(SESSIONS), max_packets))


# -- the check ----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    packets: int = 0
    rtl_cases: int = 0
    rtl_packets: int = 0
    failures: list[str] = field(default_factory=list)


TALLY = Tally()


def _diff(name: str, got_ev: np.ndarray, got_c: dict[str, int], want_ev: np.ndarray, want_c: dict[str, int]) -> None:
    g, w = comparable(got_ev), comparable(want_ev)
    if len(g) != len(w) or not np.array_equal(g, w):
        n = min(len(g), len(w))
        bad = np.flatnonzero((g[:n] != w[:n]).any(axis=1))
        first = int(bad[0]) if len(bad) else n
        raise AssertionError(f"{name}: {len(got_ev)} events, the model {len(want_ev)}; first difference at {first}:\n"
                             f"  {name}: {got_ev[first] if first < len(got_ev) else None}\n"
                             f"  model: {want_ev[first] if first < len(want_ev) else None}")
    if got_c != want_c:
        diff = {k: (got_c.get(k), want_c.get(k)) for k in want_c if got_c.get(k) != want_c.get(k)}
        raise AssertionError(f"{name}: counters differ ({name}, model): {diff}")


def run_both(case: Case, other) -> None:
    """Feed the model and `other` (a Backend); raise AssertionError on any difference."""
    model = open_backend("model", case.config)
    for n, item in enumerate(case.packets, 1):
        line, p = item if isinstance(item, tuple) else (0, item)
        model.feed(p, n, line)
        other.feed(p, n, line)
    model.end_of_input()
    other.end_of_input()
    _diff(other.name, other.take_events(), other.counters(), model.take_events(), model.counters())


def check(case: Case) -> None:
    """The model and the C++ card on one case."""
    TALLY.cases += 1
    TALLY.packets += len(case.packets)
    run_both(case, open_backend("software", case.config))


# -- the RTL sample: the geometry of driver/test_sim_backend.py, built once -------------------------------------


def check_rtl(case: Case) -> None:
    """The model and the Verilated pipeline (a sim backend per case, on one built library)."""
    from tickgate.host.backend_sim import SimOptions

    TALLY.rtl_cases += 1
    TALLY.rtl_packets += len(case.packets)
    sim = open_backend("sim", case.config, sim=SimOptions(geometry=rtl_geometry()), announce=None)
    try:
        run_both(case, sim)
    finally:
        sim.close()


# -- the soak ------------------------------------------------------------------------------------------------

HANG_S = 60  # a case taking longer than this is a hang: every thread's stack is dumped and the run ends


def soak(goal: int, seed: int, rtl_every: int = 0, max_packets: int = 40, progress=print,
         report_s: float = 30.0) -> Tally:
    """Seeded cases until `goal` packets went through the model and the C++ card; every `rtl_every`-th case
    also a pipeline case. A disagreement or exception is recorded with the seed that replays it
    (`RandomDraw(seed)`), and the soak goes on."""
    t0 = last = time.monotonic()
    n = 0
    while TALLY.packets < goal:
        case_seed = seed << 32 | n
        jobs = [(check, ab_case if n % 4 == 3 else case)] + (
            [(check_rtl, rtl_case)] if rtl_every and n % rtl_every == 0 else [])
        for target, make in jobs:
            c = make(RandomDraw(case_seed), max_packets)
            faulthandler.dump_traceback_later(HANG_S, exit=True)
            try:
                target(c)
            except Exception as e:  # a disagreement (AssertionError) or any exception of an implementation
                TALLY.failures.append(f"{target.__name__} case seed {case_seed:#x}: {type(e).__name__}: {e}")
                progress(f"FAILURE {TALLY.failures[-1]}")
            finally:
                faulthandler.cancel_dump_traceback_later()
        n += 1
        now = time.monotonic()
        if now - last >= report_s or TALLY.packets >= goal:
            last = now
            progress(f"{TALLY.packets} packets in {TALLY.cases} cases ({TALLY.rtl_packets} packets in "
                     f"{TALLY.rtl_cases} RTL cases), {len(TALLY.failures)} failures, {now - t0:.0f} s")
    return TALLY


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets to fuzz (model vs C++)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rtl-every", type=int, default=0, help="a pipeline case every N cases (0: none)")
    ap.add_argument("--max-packets", type=int, default=40, help="packets per case at most")
    args = ap.parse_args(argv)
    import tickgate._driver as drv

    print(f"tickgate._driver: {drv.__file__}", flush=True)
    t0 = time.monotonic()
    tally = soak(args.packets, args.seed, args.rtl_every, args.max_packets, progress=lambda s: print(s, flush=True))
    print(f"done: {tally.packets} packets, {tally.cases} cases, {tally.rtl_packets} RTL packets, "
          f"{tally.rtl_cases} RTL cases, {len(tally.failures)} failures, {time.monotonic() - t0:.0f} s", flush=True)
    for f in tally.failures:
        print(f)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
