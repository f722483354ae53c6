"""Adversarial ITCH 5.0 streams for the order-book pipeline: hash collisions, capacity overflows, faults.

Each function returns the MoldUDP64 packet payloads (`pack_messages`, session `TICKGATE01`, sequence
numbers from 1, ending with an end-of-session packet) of a deterministic stream of at most a few
thousand messages, built to drive one part of the card past its capacity or through its fault paths.
They are small enough for RTL simulation; `suite()` names each with the card configuration it targets.

- `hash_collisions`: order references that share their left and right order-table buckets
  (`refs_in_buckets`, solved from the CRC's linearity), filling both buckets and the stash and overflowing.
- `level_overflow`: more distinct prices per side than the levels a side holds.
- `symbol_overflow`: more symbols than book slots.
- `duplicates_and_faults`: duplicate references across books, oversized and zero reductions, invalid
  adds and replaces, unknown references and untracked symbols.
"""

from __future__ import annotations

from typing import Any

from .adversarial_stream import MAX_PRICE, TICK, StreamBuilder, refs_in_buckets

__all__ = [
    "duplicates_and_faults",
    "hash_collisions",
    "level_overflow",
    "refs_in_buckets",
    "suite",
    "symbol_overflow",
]


def _price(side: str, mid: int, depth: int) -> int:
    """A price `depth` ticks away from `mid` on the side's own half of the book (depth from 1)."""
    return mid - depth * TICK if side == "B" else mid + depth * TICK


def hash_collisions(bucket_bits: int = 13, ways: int = 8, stash: int = 16, *, rounds: int = 3,
                    seed: int = 1) -> list[bytes]:
    """Adds whose references all share one left and one right bucket: enough to fill both, the stash and
    overflow, with rivals for each bucket alone, interleaved with executions, cancels, deletes and
    replaces of them (also of those that failed to insert), and re-adds after deletions."""
    s = StreamBuilder(seed)
    rng = s.rng
    s.open({1: "HASH", 2: "HASHB"})
    nb = 1 << bucket_bits
    mids = {1: 100_000, 2: 250_000}
    for rnd in range(rounds):
        left, right = (rnd * 7919 + 3) % nb, (rnd * 104_729 + 11) % nb
        other_l, other_r = (left + 1 + rng.randrange(nb - 1)) % nb, (right + 1 + rng.randrange(nb - 1)) % nb
        pool = refs_in_buckets(bucket_bits, left, right, 2 * (2 * ways + stash) + 8)
        main, spare = pool[: 2 * ways + stash + 3], pool[2 * ways + stash + 3:]
        rivals = (refs_in_buckets(bucket_bits, left, other_r, ways + 2)
                  + refs_in_buckets(bucket_bits, other_l, right, ways + 2))
        adds = main + rivals
        rng.shuffle(adds)
        sent = []
        for ref in adds:
            loc, side = 1 + rng.getrandbits(1), "BS"[rng.getrandbits(1)]
            s.add(ref, loc, side, 100 * (1 + rng.randrange(5)), _price(side, mids[loc], 1 + rng.randrange(4)))
            sent.append(ref)
            if rng.random() < 0.1:  # an ordinary order among them
                s.add(s.ref(), loc, side, 100, _price(side, mids[loc], 1 + rng.randrange(6)))
        deleted: list[int] = []
        for _ in range(6 * ways + stash):
            ref = rng.choice(sent)
            r = rng.random()
            if ref not in s.live:  # failed to insert, or gone: an unknown reference to the card
                if r < 0.5 or not deleted:
                    s.delete(ref, locate=1 + rng.getrandbits(1)) if r < 0.3 else s.execute(ref, 100, locate=1)
                else:  # re-add a deleted reference, or a fresh one in the same buckets
                    again = deleted.pop(rng.randrange(len(deleted))) if rng.getrandbits(1) or not spare \
                        else spare.pop()
                    side = "BS"[rng.getrandbits(1)]
                    s.add(again, 1, side, 200, _price(side, mids[1], 1 + rng.randrange(4)))
                    sent.append(again)
            elif r < 0.2 and spare:  # replace onto a colliding reference, maybe across levels
                new = spare.pop()
                o = s.live[ref]
                s.replace(ref, new, 100 * (1 + rng.randrange(3)), _price(o[1], mids[o[0]], 1 + rng.randrange(5)))
                sent.append(new)
            elif r < 0.3:  # replace onto another live colliding reference (a duplicate)
                target = rng.choice(sent)
                o = s.live[ref]
                s.replace(ref, target, 100, _price(o[1], mids[o[0]], 2))
            else:
                gone = ref
                s.reduce_some(ref)
                if gone not in s.live:
                    deleted.append(gone)
        for ref in list(s.live):  # most of the round goes, so the next one starts near empty
            if rng.random() < 0.85:
                s.delete(ref)
    return s.close()


def level_overflow(levels: int = 4, *, symbols: int = 2, messages: int = 2_000, seed: int = 2) -> list[bytes]:
    """More distinct prices per side than `levels`: adds better and worse than the held levels, the best
    level emptied, orders at evicted prices executed and deleted, replaces across levels."""
    if not 1 <= symbols <= 8:
        raise ValueError(f"symbols must be 1 to 8, not {symbols}")
    s = StreamBuilder(seed)
    rng = s.rng
    s.open({loc: f"LVL{loc}" for loc in range(1, symbols + 1)})
    span = 3 * levels + 2  # ticks each side may use
    mids = {loc: 100_000 * loc for loc in range(1, symbols + 1)}

    def on(loc: int, side: str) -> list[int]:
        return [r for r, o in s.live.items() if o[0] == loc and o[1] == side]

    def depth_of(price: int, loc: int) -> int:
        return abs(price - mids[loc]) // TICK

    while len(s.msgs) < messages:
        loc, side = 1 + rng.randrange(symbols), "BS"[rng.getrandbits(1)]
        refs = on(loc, side)
        r = rng.random()
        if r < 0.35 or len(refs) < 2:  # anywhere
            s.add(s.ref(), loc, side, 100 * (1 + rng.randrange(4)), _price(side, mids[loc], 1 + rng.randrange(span)))
        elif r < 0.45:  # a new best, pushing the worst held level out
            best = min(depth_of(s.live[x][2], loc) for x in refs)
            if best > 1:
                s.add(s.ref(), loc, side, 100, _price(side, mids[loc], best - 1))
            else:
                s.add(s.ref(), loc, side, 100, _price(side, mids[loc], 1))
        elif r < 0.52:  # empty the best level
            best = min(depth_of(s.live[x][2], loc) for x in refs)
            for x in refs:
                if depth_of(s.live[x][2], loc) == best:
                    s.execute(x, s.live[x][3]) if rng.getrandbits(1) else s.delete(x)
        elif r < 0.62:  # an order far behind: likely at an evicted price
            far = max(refs, key=lambda x: depth_of(s.live[x][2], loc))
            s.reduce_some(far)
        elif r < 0.77:  # replace across levels
            ref = rng.choice(refs)
            s.replace(ref, s.ref(), 100 * (1 + rng.randrange(3)), _price(side, mids[loc], 1 + rng.randrange(span)))
        else:
            s.reduce_some(rng.choice(refs))
    return s.close()


def symbol_overflow(symbols: int = 4, *, extra: int = 4, seed: int = 3) -> list[bytes]:
    """`symbols + extra` named symbols (and one never named) with adds, executions, trades, crosses and
    halts, each first seen in a shuffled order, so a card with `symbols` slots refuses the rest."""
    s = StreamBuilder(seed)
    rng = s.rng
    n = symbols + extra
    s.open({loc: f"SYM{loc}" for loc in range(1, n + 1)})
    locs = list(range(1, n + 2))  # n + 1 has no directory entry
    rng.shuffle(locs)
    for loc in locs:  # first use, in this order: a halt, a hidden trade or an add
        first = rng.randrange(3)
        if first == 0:
            s.halt(loc, "H")
        elif first == 1:
            s.trade(loc, 100, 50_000)
        else:
            s.add(s.ref(), loc, "B", 100, 50_000)
    for _ in range(60 * n):
        loc = rng.choice(locs)
        mine = [r for r, o in s.live.items() if o[0] == loc]
        r = rng.random()
        if r < 0.4 or not mine:
            side = "BS"[rng.getrandbits(1)]
            s.add(s.ref(), loc, side, 100 * (1 + rng.randrange(3)), _price(side, 50_000, 1 + rng.randrange(5)))
        elif r < 0.75:
            s.reduce_some(rng.choice(mine))
        elif r < 0.85:
            ref = rng.choice(mine)
            s.replace(ref, s.ref(), 100, _price(s.live[ref][1], 50_000, 1 + rng.randrange(5)))
        elif r < 0.92:
            s.trade(loc, 100, 50_000)
        elif r < 0.96:
            s.cross(loc, 1000, 50_000)
        else:
            s.halt(loc, "HT"[rng.getrandbits(1)])
    s.directory(locs[0], "RENAMED")  # a locate named again after its first use
    for ref in list(s.live)[::2]:
        s.delete(ref)
    return s.close()


def duplicates_and_faults(*, seed: int = 4) -> list[bytes]:
    """Duplicate references across books and sides, oversized and zero executions and cancels, zero shares,
    zero price and bad sides in adds and replaces, unknown references, untracked and unnamed symbols."""
    s = StreamBuilder(seed)
    rng = s.rng
    s.open({1: "DUPA", 2: "DUPB", 3: "DUPC"})
    s.delete(7, locate=1)  # unknown before anything
    for round_ in range(4):
        base = 1000 * (round_ + 1)
        s.add(base + 1, 1, "B", 100, 100_000)
        s.add(base + 2, 1, "S", 100, 100_500)
        s.add(base + 1, 2, "S", 300, 200_500)  # live in book 1: moves to book 2
        s.add(base + 1, 2, "B", 50, 199_000)  # again, same book, other side
        s.add(base + 3, 1, "B", 100, 100_000)
        s.add(base + 3, 1, "B", 200, 100_000)  # same book, same level
        s.replace(base + 2, base + 3, 10, 100_400)  # replace onto a live reference
        s.replace(base + 3, base + 3, 20, 100_300)  # new reference equal to the original
        s.add(base + 4, 3, "S", 100, 300_100)
        s.replace(base + 4, base + 1, 40, 300_200, locate=3)  # onto a live reference of another book
        s.execute(base + 1, 500)  # oversized
        s.execute(base + 3, 0)  # zero shares
        s.cancel(base + 3, 0)
        s.cancel(base + 3, 10_000)  # oversized cancel
        s.add(base + 5, 1, "B", 0, 100_000)  # zero shares
        s.add(base + 6, 1, "B", 100, 0)  # zero price
        s.add(base + 7, 1, "X", 100, 100_000)  # bad side
        s.add(base + 8, 2, "B", 100, MAX_PRICE)
        s.add(base + 9, 2, "S", 100, 1)
        s.replace(base + 8, base + 10, 0, 100_000)  # invalid replace: the original still goes
        s.replace(base + 9, base + 11, 100, 0)
        s.replace(base + 11, base + 12, 100, 100_000)  # unknown now
        s.execute(base + 12, 1, price=5, locate=2)
        s.cancel(base + 13, 1, locate=3)
        s.delete(base + 14, locate=1)
        s.add(base + 15, 9, "B", 100, 100_000)  # locate never named
        s.execute(base + 15, 100, locate=9)
        s.trade(9, 100, 100_000)
        s.add(base + 16, 1, "S", 100, 100_600)
        s.execute(base + 16, 100, price=100_550)
        s.execute(base + 16, 100, price=100_550)  # gone: unknown
        for ref in [r for r in s.live if r >= base and rng.random() < 0.7]:
            s.reduce_some(ref)
    return s.close()


def suite() -> list[tuple[str, list[bytes], dict[str, Any]]]:
    """Every stream, each with the CardConfig fields (besides defaults) of a card it pushes past capacity."""
    from tickgate.protocol.config import OrderTableConfig

    return [
        ("hash_collisions", hash_collisions(), {"order_table": OrderTableConfig()}),
        ("hash_collisions_small", hash_collisions(4, 2, 2, rounds=4, seed=5),
         {"order_table": OrderTableConfig(bucket_bits=4, ways=2, stash=2)}),
        ("level_overflow", level_overflow(4), {"max_levels": 4, "level_events": True}),
        ("level_overflow_one", level_overflow(1, symbols=1, messages=800, seed=6),
         {"max_levels": 1, "level_events": True}),
        ("symbol_overflow", symbol_overflow(4), {"max_symbols": 4}),
        ("duplicates_and_faults", duplicates_and_faults(), {"max_levels": 3, "level_events": True}),
    ]
