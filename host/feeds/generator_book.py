"""The order-flow engine of the seeded ITCH generator: per-symbol books and the messages that change them.

`Flow.chunk` turns batches of random draws into order-flow messages that keep every book valid. They are
packed by `packer` structs built from the `itch_spec` table and checked at import against
`itch.encode(itch.make(...))`; the header's tracking number (0) and timestamp pack as one 8-byte field.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

from tickgate.protocol import itch
from tickgate.protocol.itch_spec import BY_TYPE

TICK = 100  # $0.01 in Price(4)
MAX_PRICE = 2_000_000_000  # 200,000.0000, the largest Price(4)
MPIDS = ("GSCO", "MSCO", "UBSS", "JPMS", "CDRG", "VIRT", "SUSQ", "NITE")  # 8: picked by 3 random bits
_MPIDS = tuple(m.encode("ascii") for m in MPIDS)
PRINTABLE = (b"N", b"Y", b"Y", b"Y")  # of executions with price
# The 32 random bits of a message: 0 side, 1-2 reference step, 3-5 MPID or printable, 6-14 fair-price
# walk (when all 0), 15-16 delete at the touch (when both 0), 17-31 which live order.
WALK, TOUCH = 0x1FF << 6, 0x3 << 15
_HEADER = ("message_type", "stock_locate", "tracking_number", "timestamp")
_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


def packer(type_: str, *names: str) -> Callable[..., bytes]:
    """A struct packer of `type_`: pack(type byte, locate, timestamp, *fields in `names` order).

    Raises if `names` is not the field order of `itch_spec` or if the bytes differ from
    `itch.encode(itch.make(...))` for the same values (tracking number 0).
    """
    spec = BY_TYPE[type_]
    if tuple(f.name for f in spec.fields) != _HEADER + names:
        raise AssertionError(f"ITCH {type_}: generator field order disagrees with itch_spec")
    track, ts = spec.fields[2], spec.fields[3]
    if track.offset + track.width != ts.offset or track.width + ts.width != 8:
        raise AssertionError(f"ITCH {type_}: tracking number and timestamp are not 8 contiguous bytes")
    fmt = ">1sHQ" + "".join(f"{f.width}s" if f.kind == "alpha" else _CODES[f.width] for f in spec.fields[4:])
    pack = struct.Struct(fmt).pack
    t = (1 << 40) + 5
    sample = [7 + k if f.kind != "alpha" else b"Z" * f.width for k, f in enumerate(spec.fields[4:])]
    want = itch.encode(itch.make(type_, stock_locate=3, timestamp=t, **dict(zip(names, sample, strict=True))))
    if pack(type_.encode("ascii"), 3, t, *sample) != want:
        raise AssertionError(f"ITCH {type_}: generator packer disagrees with itch.encode")
    return pack


REF = "order_reference_number"
PACK_A = packer("A", REF, "buy_sell_indicator", "shares", "stock", "price")
PACK_F = packer("F", REF, "buy_sell_indicator", "shares", "stock", "price", "attribution")
PACK_E = packer("E", REF, "executed_shares", "match_number")
PACK_C = packer("C", REF, "executed_shares", "match_number", "printable", "execution_price")
PACK_X = packer("X", REF, "cancelled_shares")
PACK_D = packer("D", REF)
PACK_U = packer("U", "original_order_reference_number", "new_order_reference_number", "shares", "price")
PACK_P = packer("P", REF, "buy_sell_indicator", "shares", "stock", "price", "match_number")

# One uniform draw per message picks the action: thresholds of a real Nasdaq day's mix (adds include
# F); the rest, P_MISC, are occasional stock messages (Reg SHO `Y`, market participant position `L`).
P_ADD, P_MISC = 0.445, 0.0005
P_F = P_ADD * 0.02
_MIX = (("U", 0.092), ("E", 0.04), ("X", 0.026), ("P", 0.016), ("C", 0.0022))
_MIX = (("D", 1.0 - P_ADD - P_MISC - sum(p for _, p in _MIX)), *_MIX)
T_D, T_U, T_E, T_X, T_P, T_C = (P_ADD + sum(p for _, p in _MIX[: i + 1]) for i in range(len(_MIX)))


def _part(u: float, q: int) -> int:
    """A part of `q` shares (1 .. q-1, whole lots when `q` is), for partial executions and cancels."""
    if q >= 200 and q % 100 == 0:
        return 100 * (1 + int(u * (q // 100 - 1)))
    return 1 + int(u * (q - 1))


class Flow:
    """The live books of all symbols and the generator of order-flow messages."""

    def __init__(self, rng: random.Random, stocks: list[bytes], anchors: list[int], caps: list[int],
                 counts: dict[str, int]) -> None:
        self.rng = rng
        self.stocks = stocks
        self.anchor = anchors
        self.fair = list(anchors)  # fair bid: new bids gather at it, new asks a tick above; it walks
        self.caps = caps  # most live orders per symbol
        n = len(stocks)
        self.live: list[list[int]] = [[] for _ in range(n)]
        self.levels: list[list[dict[int, list[int]]]] = [[{}, {}] for _ in range(n)]  # price -> refs
        self.best: list[list[int]] = [[0, 0] for _ in range(n)]  # [bid, ask], 0 = empty side
        self.orders: dict[int, list[int]] = {}  # ref -> [symbol, side, price, shares, index in live]
        self.halted: set[int] = set()
        self.t = 0  # the time of the last message made
        self.next_ref = 1 + rng.getrandbits(12)
        self.next_match = 1 + rng.getrandbits(12)
        self.counts = counts  # messages made, by type

    def mid(self, s: int) -> int:
        """The middle of the book of `s` on the tick grid, else its fair price."""
        b, a = self.best[s]
        if b and a:
            return (b + a) // (2 * TICK) * TICK
        return b or a or self.fair[s]

    def match(self) -> int:
        """A new day-unique, increasing match number."""
        self.next_match += 1 + (self.rng.getrandbits(3) == 0)
        return self.next_match

    def price(self, s: int, side: int, d: int) -> int:
        """A price `d` ticks behind the fair quote of `side` (0 bid) that does not cross; 0 if none fits."""
        b, a = self.best[s]
        if side == 0:
            hi = a - TICK if a else MAX_PRICE
            p = min(max(self.fair[s] - d * TICK, TICK), hi)
            return p if p >= TICK else 0
        lo = b + TICK if b else TICK
        p = min(max(self.fair[s] + (1 + d) * TICK, lo), MAX_PRICE)
        return p if p >= lo else 0

    def walk(self, s: int) -> None:
        """Move the fair price of `s` a tick, pulled back towards its anchor (prices stay bounded)."""
        f, a0 = self.fair[s], self.anchor[s]
        up = 0.5 - max(-0.3, min(0.3, 5.0 * (f - a0) / a0))
        self.fair[s] = min(max(TICK, f + TICK if self.rng.random() < up else f - TICK), MAX_PRICE // 2)

    def stale(self, s: int, w: int) -> int:
        """The side whose touch is past the fair price (0 bid, 1 ask), else a random non-empty side."""
        b, a = self.best[s]
        f = self.fair[s]
        if a and a <= f:
            return 1
        if b and b > f:
            return 0
        side = w & 1
        return side if (a if side else b) else side ^ 1

    def insert(self, s: int, side: int, p: int, q: int, ref: int) -> None:
        live = self.live[s]
        self.orders[ref] = [s, side, p, q, len(live)]
        live.append(ref)
        lv = self.levels[s][side]
        level = lv.get(p)
        if level is None:
            lv[p] = [ref]
            best = self.best[s]
            if not best[side] or (p < best[side] if side else p > best[side]):
                best[side] = p
        else:
            level.append(ref)

    def remove(self, ref: int) -> list[int]:
        o = self.orders.pop(ref)
        s, side, p, _, i = o
        live = self.live[s]
        moved = live.pop()
        if moved != ref:
            live[i] = moved
            self.orders[moved][4] = i
        lv = self.levels[s][side]
        level = lv[p]
        level.remove(ref)
        if not level:
            del lv[p]
            best = self.best[s]
            if best[side] == p:
                best[side] = (min(lv) if side else max(lv)) if lv else 0
        return o

    def chunk(self, syms: list[int], rs: list[float], gs: list[int], ds: list[int], qs: list[int],
              ws: list[int], tlim: int, special: Callable[[int, Any, int], tuple[bytes, int]]) -> Iterator[bytes]:
        """Order flow, one message per draw, from time `self.t` (timestamps at most `tlim`).

        A draw is: symbol index, action uniform (see P_ADD..T_C), time gap (ns), depth (ticks behind the
        fair quote), order size, and 32 random bits (see WALK). `special(9, symbol, t)` makes the
        occasional stock message and returns it with its time. Updates `counts`, `t` and references.
        """
        rnd, stocks, caps, live_of, best_of = self.rng.random, self.stocks, self.caps, self.live, self.best
        orders, levels_of, fair, counts = self.orders, self.levels, self.fair, self.counts
        price, insert, remove, halted, stale = self.price, self.insert, self.remove, self.halted, self.stale
        sides = (b"B", b"S")
        ref, t = self.next_ref, self.t
        n_a = n_f = n_d = n_u = n_e = n_c = n_x = n_p = 0
        try:
            for s, r, g, d, q, w in zip(syms, rs, gs, ds, qs, ws, strict=True):
                t += g
                if t > tlim:
                    t = tlim
                if not w & WALK:
                    self.walk(s)
                live = live_of[s]
                nlive = len(live)
                if r >= P_ADD and nlive == 0 and r < T_C:
                    r = 0.5 * P_ADD  # nothing to act on: add instead
                elif r < P_ADD and nlive >= caps[s]:
                    r = P_ADD  # book full: delete instead
                elif halted and s in halted and (T_U <= r < T_E or T_X <= r < T_C):
                    r = P_ADD  # no trades while halted: delete instead
                if r < P_ADD:  # add near the fair quote, never crossing (price() takes the edge cases)
                    best = best_of[s]
                    b, a = best
                    side = w & 1
                    if side:
                        p = fair[s] + (1 + d) * TICK
                        if p <= b or p > MAX_PRICE:
                            p = price(s, 1, d)
                    else:
                        p = fair[s] - d * TICK
                        if p < TICK or (a and p >= a):
                            p = price(s, 0, d)
                    if not p:
                        side ^= 1
                        p = price(s, side, d)
                    ref += 1 + (w >> 1 & 3)
                    orders[ref] = [s, side, p, q, nlive]
                    live.append(ref)
                    lv = levels_of[s][side]
                    level = lv.get(p)
                    if level is None:
                        lv[p] = [ref]
                        if not best[side] or (p < best[side] if side else p > best[side]):
                            best[side] = p
                    else:
                        level.append(ref)
                    if r < P_F:
                        n_f += 1
                        yield PACK_F(b"F", s + 1, t, ref, sides[side], q, stocks[s], p, _MPIDS[w >> 3 & 7])
                    else:
                        n_a += 1
                        yield PACK_A(b"A", s + 1, t, ref, sides[side], q, stocks[s], p)
                elif r < T_D:  # delete: a quote at the touch (stale first), else anywhere in the book
                    if w & TOUCH:
                        old = live[(w >> 17) % nlive]
                    else:
                        side = stale(s, w)
                        old = levels_of[s][side][best_of[s][side]][-1]
                    _, side, p, _, k = orders.pop(old)
                    moved = live.pop()
                    if moved != old:
                        live[k] = moved
                        orders[moved][4] = k
                    lv = levels_of[s][side]
                    level = lv[p]
                    level.remove(old)
                    if not level:
                        del lv[p]
                        best = best_of[s]
                        if best[side] == p:
                            best[side] = (min(lv) if side else max(lv)) if lv else 0
                    n_d += 1
                    yield PACK_D(b"D", s + 1, t, old)
                elif r < T_U:  # replace: same side, new reference, new price near the fair quote
                    old = live[(w >> 17) % nlive]
                    _, side, p0, q0, _ = remove(old)
                    p = price(s, side, d) or p0
                    if w & 1:
                        q = q0
                    ref += 1 + (w >> 1 & 3)
                    insert(s, side, p, q, ref)
                    n_u += 1
                    yield PACK_U(b"U", s + 1, t, old, ref, q, p)
                elif r < T_E or T_P <= r < T_C:  # execution of the oldest order at the touch (stale first)
                    side = stale(s, w)
                    p = best_of[s][side]
                    old = levels_of[s][side][p][0]
                    o = orders[old]
                    q = o[3]
                    x = q if q == 1 or rnd() < 0.55 else _part(rnd(), q)
                    if x == q:
                        remove(old)
                    else:
                        o[3] = q - x
                    self.next_match += 1 + (w & 7 == 0)
                    if r < T_E:
                        n_e += 1
                        yield PACK_E(b"E", s + 1, t, old, x, self.next_match)
                    else:
                        px = max(TICK, p - TICK if side else p + TICK)  # discretion: better for the order
                        n_c += 1
                        yield PACK_C(b"C", s + 1, t, old, x, self.next_match, PRINTABLE[w >> 3 & 3], px)
                elif r < T_X:  # partial cancel, fewer shares than remain
                    old = live[(w >> 17) % nlive]
                    o = orders[old]
                    q = o[3]
                    if q < 2:
                        remove(old)
                        n_d += 1
                        yield PACK_D(b"D", s + 1, t, old)
                    else:
                        x = _part(rnd(), q)
                        o[3] = q - x
                        n_x += 1
                        yield PACK_X(b"X", s + 1, t, old, x)
                elif r < T_P:  # hidden (non-displayed) trade inside the spread; side is always B
                    b, a = best_of[s]
                    p = (b + a) // 2 if b and a else (b or a or fair[s])
                    self.next_match += 1 + (w & 7 == 0)
                    n_p += 1
                    yield PACK_P(b"P", s + 1, t, 0, b"B", q, stocks[s], p, self.next_match)
                else:
                    msg, t = special(9, s, t)
                    counts[chr(msg[0])] = counts.get(chr(msg[0]), 0) + 1
                    yield msg
        finally:  # also when the consumer stops early
            self.next_ref, self.t = ref, t
            for k, v in zip("AFDUECXP", (n_a, n_f, n_d, n_u, n_e, n_c, n_x, n_p), strict=True):
                if v:
                    counts[k] = counts.get(k, 0) + v
