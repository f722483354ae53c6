"""Seeded generator of realistic Nasdaq TotalView-ITCH 5.0 order flow, correct by construction.

A stream is: System Event `O`, one Stock Directory `R` per symbol (locates 1..N), System Event `S`,
then order flow (adds with and without MPID, deletes, replaces, partial cancels, executions at the
touch, executions with price, hidden trades, a few halts, crosses and imbalance messages) with the
market opening (`Q`) along the way, and `M`, `E`, `C` at the end when the budget allows. Books never
cross, every modify references a live order of its symbol, order references and match numbers are
day-unique and increasing, and timestamps never decrease. Output depends only on the arguments.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

import numpy as np

from tickgate.protocol import itch

from .generator_book import MPIDS, TICK, Flow

__all__ = ["CLOSE_NS", "DEFAULT_START_NS", "OPEN_NS", "Generator", "generate", "symbol_names"]

OPEN_NS = 34_200_000_000_000  # 09:30:00, start of market hours
CLOSE_NS = 57_600_000_000_000  # 16:00:00, end of market hours
END_SYSTEM_NS = 72_000_000_000_000  # 20:00:00, end of system hours
END_MESSAGES_NS = 72_300_000_000_000  # 20:05:00, end of messages
DEFAULT_START_NS = OPEN_NS - 60_000_000_000
GAP_NS = 50_000  # mean time between messages in market hours (a real day is about 80 us)
CHUNK = 4096  # messages per batch of random draws
MAX_SYMBOLS = 65_535  # stock locate is 16 bits, 0 is not a stock
_NAMES_SEED = 0x17C4_5000

# Kinds of scheduled messages in the body (see _segments and Generator._special).
_OPEN, _CROSS, _HALT, _RESUME, _NOII, _CLOSE_CROSS, _MISC = 0, 1, 2, 3, 4, 5, 9


def symbol_names(n: int) -> list[str]:
    """`n` distinct plausible tickers of 1-8 uppercase letters, sorted; the same on every call."""
    if not 0 <= n <= MAX_SYMBOLS:
        raise ValueError(f"symbols must be 0..{MAX_SYMBOLS}, got {n}")
    rng = random.Random(_NAMES_SEED)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lengths = (1, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = "".join(rng.choice(letters) for _ in range(rng.choice(lengths)))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return sorted(out)


def _table(rng: random.Random, n: int, draw: Callable[[float], int]) -> np.ndarray:
    """`n` draws of `draw(uniform)`: the table the flow samples uniformly."""
    return np.array([draw(rng.random()) for _ in range(n)], dtype=np.int64)


def _depth(u: float) -> int:
    """Ticks behind the fair quote for a new order: -1 is a tick more aggressive, 0 at it."""
    for d, c in ((-1, 0.12), (0, 0.42), (1, 0.60), (2, 0.72), (3, 0.80), (4, 0.86), (6, 0.93), (9, 0.97)):
        if u < c:
            return d
    return 10 + int((u - 0.97) / 0.03 * 20)


def _size(u: float) -> int:
    """Shares of a new order: round lots mostly, some odd and mixed lots."""
    if u < 0.07:
        return 1 + int(u / 0.07 * 99)
    if u < 0.10:
        return 100 * (1 + int((u - 0.07) / 0.03 * 5)) + 1 + int((u * 7919) % 99)
    for lots, c in ((1, 0.55), (2, 0.70), (3, 0.77), (4, 0.81), (5, 0.88), (10, 0.94), (20, 0.97)):
        if u < c:
            return 100 * lots
    return 100 * (25 + int((u - 0.97) / 0.03 * 75))


def _gaps(rng: random.Random, mean: float) -> np.ndarray:
    """Exponential time gaps (ns) of the given mean."""
    return _table(rng, 4096, lambda u: int(-math.log(1.0 - u) * mean))


class _Draws:
    """Batches of random inputs of the order flow: symbol (Zipf activity), action, gap, depth, size, bits."""

    def __init__(self, rng: random.Random, weights: list[float], gap_pre: float, gap_post: float) -> None:
        cum = np.cumsum(np.array(weights, dtype=np.float64) / math.fsum(weights))
        cum[-1] = 1.0
        self.cum = cum  # symbol i is drawn for a uniform u with cum[i-1] <= u < cum[i]
        self.depth, self.size = _table(rng, 1024, _depth), _table(rng, 1024, _size)
        self.gaps, self.gaps_post = _gaps(rng, gap_pre), _gaps(rng, gap_post)
        self.bits = np.random.PCG64(rng.getrandbits(64))  # its raw stream is stable across numpy versions

    def __call__(self, m: int) -> tuple[list[int], list[float], list[int], list[int], list[int], list[int]]:
        raw = self.bits.random_raw(3 * m).reshape(3, m)
        u = (raw[:2] >> np.uint64(11)).astype(np.float64) * 2.0**-53  # uniforms in [0, 1)
        w = raw[2]
        syms = np.searchsorted(self.cum, u[0], side="right").tolist() if len(self.cum) > 1 else [0] * m
        gs = self.gaps[(w & np.uint64(4095)).astype(np.intp)].tolist()
        ds = self.depth[(w >> np.uint64(12) & np.uint64(1023)).astype(np.intp)].tolist()
        qs = self.size[(w >> np.uint64(22) & np.uint64(1023)).astype(np.intp)].tolist()
        return syms, u[1].tolist(), gs, ds, qs, (w >> np.uint64(32)).tolist()


def _segments(flow: Flow, draws: _Draws, n: int, specials: list[tuple[int, int, Any]],
              special: Callable[[int, Any, int], tuple[bytes, int]]) -> Iterator[Iterable[bytes]]:
    """The `n` body messages from time `flow.t`, as chunks of order flow and scheduled messages alone.

    Flow stays below the open until the `_OPEN` special, then at or before the close (later only after
    a closing cross). Each chunk runs to its end before the next is made (`chain.from_iterable`).
    """
    t = flow.t
    tlim = OPEN_NS - 1 if t < OPEN_NS else max(CLOSE_NS - 1, t)
    i = 0
    for end, kind, arg in [*specials, (n, -1, None)]:
        while i < end:
            m = min(end - i, CHUNK)
            yield flow.chunk(*draws(m), tlim, special)
            t = flow.t
            tlim = max(tlim, t)
            i += m
        if kind < 0:
            break
        if kind == _OPEN:  # from here on, the trading-hours clock
            t, draws.gaps = max(t, OPEN_NS), draws.gaps_post
            tlim = max(CLOSE_NS - 1, t)
        msg, t = special(kind, arg, t)
        flow.t = t
        tlim = max(tlim, t)
        flow.counts[chr(msg[0])] = flow.counts.get(chr(msg[0]), 0) + 1
        i += 1
        yield (msg,)


def _system(t: int, code: str) -> bytes:
    return itch.encode(itch.make("S", timestamp=t, event_code=code))


class Generator:
    """One seeded ITCH 5.0 stream of exactly `messages` messages over `symbols` stocks.

    Iterate it for the encoded messages (no length prefix); `counts` then holds how many of each
    message type were produced (complete once the iteration ends). Iterating again restarts the stream.
    """

    def __init__(self, messages: int, symbols: int, seed: int, *, start_ns: int = DEFAULT_START_NS) -> None:
        if messages < 0:
            raise ValueError(f"messages must be >= 0, got {messages}")
        if not 1 <= symbols <= MAX_SYMBOLS:
            raise ValueError(f"symbols must be 1..{MAX_SYMBOLS}, got {symbols}")
        if not 0 <= start_ns < CLOSE_NS - 600_000_000_000:
            raise ValueError("start_ns must be at or after midnight and at least 10 minutes before the close")
        self.messages = messages
        self.seed = seed
        self.start_ns = start_ns
        self.symbols = symbol_names(symbols)
        self.counts: Counter[str] = Counter()
        self.flow: Flow | None = None

    def __len__(self) -> int:
        return self.messages

    @property
    def live_orders(self) -> int:
        """Orders on the books at the current point of the iteration."""
        return len(self.flow.orders) if self.flow else 0

    def __iter__(self) -> Iterator[bytes]:
        """A fresh pass over the stream; the header is made (and counted) at once, the rest lazily."""
        self.counts = counts = Counter()
        rng = random.Random(self.seed)
        n_sym = len(self.symbols)
        stocks = [s.encode("ascii").ljust(8) for s in self.symbols]
        ranks = list(range(n_sym))
        rng.shuffle(ranks)  # activity rank of each locate: Zipf, the most active is anywhere
        weights = [1.0 / (1 + k) for k in ranks]
        total = sum(weights)
        caps = [min(400, max(8, int(4000 * w / total))) for w in weights]
        anchors = [round(math.exp(rng.uniform(math.log(2.0), math.log(400.0))) * 100) * TICK
                   for _ in range(n_sym)]
        by_activity = sorted(range(n_sym), key=ranks.__getitem__)

        header = 2 + n_sym
        footer = 3 if self.messages >= header + 3 else 0
        body = max(0, self.messages - header - footer)
        t = self.start_ns
        out = [_system(t, "O")]
        for s, stock in enumerate(stocks[: self.messages - 1]):
            t += 20_000 + rng.getrandbits(16)
            out.append(self._directory(rng, s + 1, t, stock))
        if self.messages >= header:
            t += 1_000_000
            out.append(_system(t, "S"))
        out = out[: self.messages]
        counts.update(chr(m[0]) for m in out)
        if self.messages <= header:
            return iter(out)

        q_idx = body // 20 if t < OPEN_NS - 1 else 0
        gap_pre = 0.9 * (OPEN_NS - t) / (q_idx + 1) if q_idx else 0.0
        gap_post = min(GAP_NS, 0.9 * (CLOSE_NS - max(t, OPEN_NS)) / max(1, body - q_idx))
        self.flow = flow = Flow(rng, stocks, anchors, caps, counts)
        draws = _Draws(rng, weights, gap_pre, gap_post)
        specials = self._schedule(rng, body, q_idx, by_activity, flow)

        def special(kind: int, arg: Any, ts: int) -> tuple[bytes, int]:
            return self._special(rng, flow, stocks, kind, arg, ts)

        def end() -> Iterator[bytes]:
            t = flow.t
            for code, at in (("M", CLOSE_NS), ("E", END_SYSTEM_NS), ("C", END_MESSAGES_NS))[:footer]:
                t = max(t + 1, at)
                counts["S"] += 1
                yield _system(t, code)

        flow.t = t
        return chain(out, chain.from_iterable(_segments(flow, draws, body, specials, special)), end())

    @staticmethod
    def _directory(rng: random.Random, locate: int, t: int, stock: bytes) -> bytes:
        category = "QQGSSNNPZ"[rng.getrandbits(16) % 9]
        nasdaq = category in "QGS"
        return itch.encode(itch.make(
            "R", stock_locate=locate, timestamp=t, stock=stock, market_category=category,
            financial_status_indicator="N" if nasdaq else " ", round_lot_size=100, round_lots_only="N",
            issue_classification="C", issue_sub_type="Z", authenticity="P",
            short_sale_threshold_indicator="N", ipo_flag="N" if nasdaq else " ",
            luld_reference_price_tier="12"[rng.getrandbits(1)], etp_flag="N", etp_leverage_factor=0,
            inverse_indicator="N"))

    @staticmethod
    def _schedule(rng: random.Random, body: int, q_idx: int, by_activity: list[int],
                  flow: Flow) -> list[tuple[int, int, Any]]:
        """The scheduled (index, kind, arg) messages of the body, at distinct indices below `body`."""
        top = by_activity[:3]
        plan: list[tuple[int, int, Any]] = [(q_idx, _OPEN, None)]
        for k in range(min(q_idx // 50, 20)):  # imbalance indications before the opening cross
            plan.append((q_idx * (k + 1) // 21, _NOII, top[k % len(top)]))
        if body >= 100:
            plan += [(q_idx + 1 + k, _CROSS, (s, "O")) for k, s in enumerate(top)]
        trading = body - q_idx
        halts = min(3, body // 30_000)
        for k in range(halts):
            at = q_idx + trading * (k + 1) // (halts + 1)
            dur = max(10, trading // (10 * (halts + 1)))
            s = by_activity[rng.getrandbits(16) % min(len(by_activity), 20)]
            plan += [(at, _HALT, s), (at + dur, _CROSS, (s, "H")), (at + dur + 1, _RESUME, s)]
        if body >= 1000:
            plan += [(body - len(top) + k, _CLOSE_CROSS, s) for k, s in enumerate(top)]
        out: list[tuple[int, int, Any]] = []
        last = -1
        for at, kind, arg in sorted(plan, key=lambda p: p[0]):  # stable: ties keep their order
            at = max(at, last + 1)
            if at >= body:
                break
            out.append((at, kind, arg))
            last = at
        return out

    @staticmethod
    def _special(rng: random.Random, flow: Flow, stocks: list[bytes], kind: int, arg: Any,
                 t: int) -> tuple[bytes, int]:
        """One scheduled or occasional message at time `t`; returns it and its timestamp."""
        if kind == _OPEN:
            return _system(t, "Q"), t
        if kind == _MISC:
            s = arg
            if rng.getrandbits(1):
                m = itch.make("Y", stock_locate=s + 1, timestamp=t, stock=stocks[s],
                              reg_sho_action="01"[rng.getrandbits(1)])
            else:
                m = itch.make("L", stock_locate=s + 1, timestamp=t, mpid=MPIDS[rng.getrandbits(3)],
                              stock=stocks[s], primary_market_maker="YN"[rng.getrandbits(1)],
                              market_maker_mode="N", market_participant_state="A")
            return itch.encode(m), t
        s = arg[0] if kind == _CROSS else arg
        loc, stock = s + 1, stocks[s]
        if kind == _HALT:
            flow.halted.add(s)
            state, reason = ("P", "LUDP") if rng.getrandbits(1) else ("H", "T1")
            m = itch.make("H", stock_locate=loc, timestamp=t, stock=stock, trading_state=state, reason=reason)
        elif kind == _RESUME:
            flow.halted.discard(s)
            m = itch.make("H", stock_locate=loc, timestamp=t, stock=stock, trading_state="T")
        elif kind == _NOII:
            ref = flow.mid(s)
            imb = 100 * rng.randint(0, 500)
            m = itch.make("I", stock_locate=loc, timestamp=t, paired_shares=100 * rng.randint(10, 50_000),
                          imbalance_shares=imb, imbalance_direction="BS"[rng.getrandbits(1)] if imb else "N",
                          stock=stock, far_price=max(TICK, ref + TICK * rng.randint(-5, 5)), near_price=ref,
                          current_reference_price=ref, cross_type="O", price_variation_indicator="L")
        else:
            cross = arg[1] if kind == _CROSS else "C"
            if kind == _CLOSE_CROSS:
                t = max(t, CLOSE_NS)
            m = itch.make("Q", stock_locate=loc, timestamp=t, shares=100 * rng.randint(0, 20_000),
                          stock=stock, cross_price=flow.mid(s), match_number=flow.match(), cross_type=cross)
        return itch.encode(m), t


def generate(messages: int, symbols: int, seed: int, *,
             start_ns: int = DEFAULT_START_NS) -> Iterator[bytes]:
    """Exactly `messages` encoded ITCH 5.0 messages (no length prefix) of a seeded synthetic day."""
    return iter(Generator(messages, symbols, seed, start_ns=start_ns))
