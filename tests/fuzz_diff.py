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
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hseed
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

from tickgate.host.backend import ModelBackend, SoftwareBackend  # noqa: E402
from tickgate.model.config import CardConfig  # noqa: E402
from tickgate.model.order_table import OrderTableConfig  # noqa: E402
from tickgate.protocol import moldudp64 as mold  # noqa: E402
from tickgate.protocol.events import comparable  # noqa: E402
from tickgate.protocol.itch_spec import BY_TYPE, MESSAGES  # noqa: E402

__all__ = ["Case", "cases", "check", "rtl_cases", "soak"]

U64 = 1 << 64
SESSIONS = (b"TICKGATE01", b"TICKGATE02", b"OTHER00001")
SYMBOLS = ("AAA", "BBBB", "CC", "DDDDDDDD")
LOCATES = (0, 1, 2, 3, 4, 0xFFFF)
REF_POOL = 12

# -- ITCH messages: every field from its edges --------------------------------------------------------------


def _uint(width: int) -> st.SearchStrategy[int]:
    top = (1 << 8 * width) - 1
    return st.one_of(st.sampled_from((0, 1, 2, top - 1, top, top >> 1, (top >> 1) + 1)), st.integers(0, top))


_SHARES = st.one_of(st.sampled_from((0, 1, 2, 100, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 31)), st.integers(1, 1000))
_PRICES = st.one_of(st.sampled_from((0, 1, 0xFFFF_FFFF, 999_900, 1_000_000, 1_000_100, 1_000_200)),
                    st.integers(999_000, 1_001_000).map(lambda p: p // 100 * 100))
_REFS = st.one_of(st.integers(1, REF_POOL), st.sampled_from((0, U64 - 1, 1 << 63)))
_ALPHA_BYTES = st.binary(min_size=0, max_size=10)
_REF_FIELDS = ("order_reference_number", "original_order_reference_number", "new_order_reference_number")
_SHARE_FIELDS = ("shares", "executed_shares", "cancelled_shares")
# book-moving types weighted up; every type appears, and unknown type bytes
_TYPES = tuple("AAAAFEECXDDUUPQHSRR") + tuple(m.type for m in MESSAGES)


def _alpha(field_name: str, width: int) -> st.SearchStrategy[bytes]:
    if field_name == "stock":
        named = st.sampled_from(SYMBOLS).map(lambda s: s.encode().ljust(width))
        return st.one_of(named, named, _ALPHA_BYTES.map(lambda b: b[:width].ljust(width)))
    if field_name == "buy_sell_indicator":
        return st.sampled_from((b"B", b"S", b"B", b"S", b" ", b"X"))
    return st.one_of(st.binary(min_size=width, max_size=width),
                     st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ ", min_size=width, max_size=width).map(str.encode))


@st.composite
def message(draw) -> bytes:
    """One ITCH message: a known type with each field drawn from its edges, or an unknown type byte; then, now
    and again, a wrong length (cut short, grown, or empty)."""
    if draw(st.integers(0, 40)) == 0:
        return bytes([draw(st.integers(0, 255))]) + draw(st.binary(max_size=60))
    spec = BY_TYPE[draw(st.sampled_from(_TYPES))]
    buf = bytearray(spec.length)
    for f in spec.fields:
        if f.name == "message_type":
            buf[0] = ord(spec.type)
            continue
        if f.kind == "alpha":
            raw = draw(_alpha(f.name, f.width))
        else:
            if f.name == "stock_locate":
                v = draw(st.sampled_from(LOCATES))
            elif f.name in _REF_FIELDS:
                v = draw(_REFS)
            elif f.name in _SHARE_FIELDS:
                v = draw(_SHARES)
            elif f.kind == "price4":
                v = draw(_PRICES)
            else:
                v = draw(_uint(f.width))
            raw = v.to_bytes(f.width, "big")
        buf[f.offset:f.offset + f.width] = raw
    cut = draw(st.integers(0, 30))
    if cut == 0:
        return bytes(buf[:draw(st.integers(0, len(buf) - 1))])
    if cut == 1:
        return bytes(buf) + draw(st.binary(min_size=1, max_size=8))
    return bytes(buf)


# -- MoldUDP64 packets: sequence numbers, counts, sessions, lengths -----------------------------------------


def _packet(session: bytes, seq: int, msgs: list[bytes]) -> bytes:
    return mold.HEADER_STRUCT.pack(session, seq % U64, len(msgs)) + b"".join(
        len(m).to_bytes(2, "big") + m for m in msgs)


@st.composite
def packets(draw, session: bytes) -> list[bytes]:
    """A stream of packets numbered from a drawn start, bent by one drawn fault per packet (most have none)."""
    start = draw(st.one_of(st.just(1), st.integers(1, 1 << 20), st.integers(U64 - 40, U64 - 1),
                           st.sampled_from((0, U64 - 1))))
    seq, sess = start, session
    out: list[bytes] = []
    for _ in range(draw(st.integers(1, 12))):
        msgs = draw(st.lists(message(), min_size=1, max_size=8))
        fault = draw(st.sampled_from(("none",) * 12 + (
            "gap", "huge_gap", "wrap", "duplicate", "overlap", "reorder", "wrong_session", "heartbeat",
            "end_of_session", "count_more", "count_less", "count_zero", "truncate", "garbage", "oversize",
            "empty", "header_only", "short_header", "block_past_end")))
        if fault == "gap":
            seq += draw(st.integers(1, 50))
        elif fault == "huge_gap":
            seq += draw(st.integers(1 << 32, U64 - 1))
        elif fault == "wrap":
            seq = U64 - draw(st.integers(1, 4))
        pkt = _packet(sess, seq, msgs)
        if fault == "duplicate" and out:
            pkt = draw(st.sampled_from(out))
        elif fault == "overlap":
            pkt = _packet(sess, max(0, seq - draw(st.integers(1, 4))), msgs)
        elif fault == "wrong_session":
            pkt = _packet(draw(st.sampled_from(SESSIONS)), seq, msgs)
        elif fault == "heartbeat":
            pkt = mold.HEADER_STRUCT.pack(sess, seq % U64, 0) + draw(st.sampled_from((b"", b"\0")))
        elif fault == "end_of_session":
            pkt = mold.HEADER_STRUCT.pack(sess, seq % U64, mold.END_OF_SESSION)
            sess, seq = draw(st.sampled_from(SESSIONS)), draw(st.integers(0, 1000))
            out.append(pkt)
            continue
        elif fault in ("count_more", "count_less", "count_zero"):
            count = {"count_more": len(msgs) + 1, "count_less": len(msgs) - 1, "count_zero": 0}[fault]
            pkt = mold.HEADER_STRUCT.pack(sess, seq % U64, count) + pkt[mold.HEADER_LEN:]
        elif fault == "truncate":
            pkt = pkt[:draw(st.integers(mold.HEADER_LEN, len(pkt) - 1))]
        elif fault == "garbage":
            pkt += draw(st.binary(min_size=1, max_size=9))
        elif fault == "oversize":
            pkt += bytes(mold.MAX_PACKET + 1 - len(pkt) + draw(st.integers(0, 3)))
        elif fault == "empty":
            pkt = b""
        elif fault == "header_only":
            pkt = pkt[:mold.HEADER_LEN]
        elif fault == "short_header":
            pkt = pkt[:draw(st.integers(1, mold.HEADER_LEN - 1))]
        elif fault == "block_past_end":
            pkt = pkt[:mold.HEADER_LEN] + (0xFFFF).to_bytes(2, "big") + pkt[mold.HEADER_LEN + 2:]
        if fault == "reorder" and out:
            out.insert(len(out) - 1, pkt)
        else:
            out.append(pkt)
        seq += len(msgs)
    return out


# -- card configurations -------------------------------------------------------------------------------------


@st.composite
def configs(draw) -> CardConfig:
    """Tiny order tables, few levels and book slots, a symbol subset, a fixed session or first sequence."""
    max_levels = draw(st.one_of(st.none(), st.integers(1, 4)))
    table = draw(st.one_of(st.none(), st.builds(OrderTableConfig, st.integers(1, 3), st.integers(1, 2),
                                                  st.integers(0, 2))))
    return CardConfig(
        symbols=draw(st.one_of(st.none(), st.frozensets(st.sampled_from(SYMBOLS), max_size=3))),
        order_table=table, max_levels=max_levels, max_symbols=draw(st.one_of(st.none(), st.integers(1, 3))),
        session=draw(st.one_of(st.none(), st.sampled_from(SESSIONS))),
        first_sequence=draw(st.one_of(st.none(), st.sampled_from((0, 1, U64 - 1)), st.integers(0, U64 - 1))),
        level_events=max_levels is not None and draw(st.booleans()))


@dataclass
class Case:
    config: CardConfig
    packets: list[bytes]


@st.composite
def cases(draw) -> Case:
    config = draw(configs())
    return Case(config, draw(packets(config.session or draw(st.sampled_from(SESSIONS)))))


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
    model = ModelBackend(case.config)
    for n, p in enumerate(case.packets, 1):
        model.feed(p, n)
        other.feed(p, n)
    _diff(other.name, other.take_events(), other.counters(), model.take_events(), model.counters())


def check(case: Case) -> None:
    """The model and the C++ card on one case."""
    TALLY.cases += 1
    TALLY.packets += len(case.packets)
    run_both(case, SoftwareBackend(case.config))


# -- the RTL sample: the geometry of driver/test_sim_backend.py, built once -------------------------------------


def rtl_geometry():
    from tickgate.hdl.book.engine import BookGeometry

    return BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))


@st.composite
def rtl_cases(draw) -> Case:
    """Cases for the pipeline: the configuration's capacities are the built geometry's."""
    g = rtl_geometry()
    session = draw(st.one_of(st.none(), st.sampled_from(SESSIONS)))
    config = CardConfig(symbols=draw(st.one_of(st.none(), st.frozensets(st.sampled_from(SYMBOLS), max_size=3))),
                        order_table=g.order_table, max_levels=g.levels, max_symbols=g.symbols, session=session,
                        first_sequence=draw(st.one_of(st.none(), st.sampled_from((0, 1, U64 - 1)))),
                        level_events=draw(st.booleans()))
    return Case(config, draw(packets(session or draw(st.sampled_from(SESSIONS)))))


_SIM: dict[str, object] = {}


def check_rtl(case: Case) -> None:
    """The model and the Verilated pipeline (a SimBackend per case, on one built library)."""
    from tickgate.host.backend_sim import SimBackend

    TALLY.rtl_cases += 1
    TALLY.rtl_packets += len(case.packets)
    sim = SimBackend(case.config, rtl_geometry())
    try:
        run_both(case, sim)
    finally:
        sim.close()


# -- the soak ------------------------------------------------------------------------------------------------

SOAK = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
HANG_S = 120  # a case taking longer than this is a hang: every thread's stack is dumped and the run ends


def soak(goal: int, seed: int, rtl_every: int = 0, batch: int = 500, progress=print) -> Tally:
    """Cases until `goal` packets went through the model and the C++ card; every `rtl_every`-th batch also
    runs a batch of pipeline cases of a tenth the size. A disagreement is shrunk by hypothesis and recorded."""
    t0 = time.monotonic()
    n = 0
    while TALLY.packets < goal:
        for target, strategy, size in ((check, cases(), batch),
                                       *(((check_rtl, rtl_cases(), max(1, batch // 10)),)
                                         if rtl_every and n % rtl_every == 0 else ())):
            test = settings(SOAK, max_examples=size)(hseed(seed * 1_000_003 + n)(given(strategy)(target)))
            faulthandler.dump_traceback_later(HANG_S * size, exit=True)
            try:
                test()
            except Exception as e:  # a disagreement (AssertionError) or any exception of an implementation
                TALLY.failures.append(f"seed {seed} batch {n}: {type(e).__name__}: {e}")
                progress(f"DISAGREEMENT (batch {n}): {e}")
            finally:
                faulthandler.cancel_dump_traceback_later()
        n += 1
        dt = time.monotonic() - t0
        progress(f"{TALLY.packets} packets in {TALLY.cases} cases ({TALLY.rtl_packets} packets in "
                 f"{TALLY.rtl_cases} RTL cases), {len(TALLY.failures)} disagreements, {dt:.0f} s")
    return TALLY


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets to fuzz (model vs C++)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rtl-every", type=int, default=0, help="a batch of pipeline cases every N batches (0: none)")
    ap.add_argument("--batch", type=int, default=500, help="cases per hypothesis run")
    args = ap.parse_args(argv)
    import tickgate._driver as drv

    print(f"tickgate._driver: {drv.__file__}", flush=True)
    t0 = time.monotonic()
    tally = soak(args.packets, args.seed, args.rtl_every, args.batch, progress=lambda s: print(s, flush=True))
    print(f"done: {tally.packets} packets, {tally.cases} cases, {tally.rtl_packets} RTL packets, "
          f"{tally.rtl_cases} RTL cases, {len(tally.failures)} disagreements, {time.monotonic() - t0:.0f} s",
          flush=True)
    for f in tally.failures:
        print(f)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
