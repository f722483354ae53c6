"""Building blocks of the adversarial streams (`adversarial.py`): order references that share their
order-table buckets, and a message builder that tracks the orders as the sender meant them."""

from __future__ import annotations

import random
from typing import Any

from tickgate.protocol import itch
from tickgate.protocol.order_hash import MAX_BUCKET_BITS, buckets, crc32c_u64

from .files import pack_messages

__all__ = ["MAX_PRICE", "OPEN_NS", "TICK", "StreamBuilder", "refs_in_buckets"]

OPEN_NS = 34_200_000_000_000  # 09:30:00
TICK = 100  # $0.01 in Price(4)
MAX_PRICE = 2_000_000_000  # 200,000.0000


def refs_in_buckets(bucket_bits: int, left: int, right: int, n: int, skip: int = 0) -> list[int]:
    """`n` distinct non-zero order references whose candidate buckets are `left` and `right`.

    CRC-32C over a fixed length is affine over GF(2), so the references whose hash has the wanted bits
    form an affine subspace: solved once by elimination, then enumerated (the `skip` first are skipped).
    """
    if not 1 <= bucket_bits <= MAX_BUCKET_BITS:
        raise ValueError(f"bucket_bits must be 1 to {MAX_BUCKET_BITS}, not {bucket_bits}")
    if not (0 <= left < 1 << bucket_bits and 0 <= right < 1 << bucket_bits):
        raise ValueError(f"buckets {left}, {right} out of range for {bucket_bits} bucket bits")
    c0 = crc32c_u64(0)
    cols = [crc32c_u64(1 << i) ^ c0 for i in range(64)]  # hash bits flipped by each reference bit
    want = (left | right << 16) ^ c0
    pivots: list[tuple[int, int, int]] = []  # (pivot bit, row over reference bits, right-hand side)
    for p in [*range(bucket_bits), *range(16, 16 + bucket_bits)]:
        row = sum((cols[i] >> p & 1) << i for i in range(64))
        rhs = want >> p & 1
        for b, m, r in pivots:
            if row >> b & 1:
                row, rhs = row ^ m, rhs ^ r
        if row == 0:
            if rhs:
                raise ValueError(f"no reference hashes to buckets {left}, {right}")  # not for CRC-32C
            continue
        pb = (row & -row).bit_length() - 1
        pivots = [(b, m ^ row, r ^ rhs) if m >> pb & 1 else (b, m, r) for b, m, r in pivots]
        pivots.append((pb, row, rhs))
    pivot_bits = {b for b, _, _ in pivots}
    free = [i for i in range(64) if i not in pivot_bits]
    out: list[int] = []
    k = skip
    while len(out) < n:
        k += 1
        if k >= 1 << len(free):
            raise ValueError("not that many references in one bucket pair")
        ref = sum(1 << free[j] for j in range(len(free)) if k >> j & 1)
        for b, m, r in pivots:
            if r ^ ((m & ref).bit_count() & 1):
                ref |= 1 << b
        if buckets(ref, bucket_bits) != (left, right):  # the algebra, checked
            raise AssertionError(f"reference {ref:#x} does not hash to ({left}, {right})")
        out.append(ref)
    return out


class StreamBuilder:
    """Messages under construction, with increasing timestamps and the orders as the sender meant them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.msgs: list[bytes] = []
        self.t = OPEN_NS - 1_000_000_000
        self.live: dict[int, list[Any]] = {}  # ref -> [locate, side, price, shares]
        self.match = 0
        self.next_ref = 1

    def msg(self, type_: str, **fields: Any) -> None:
        self.t += 500 + self.rng.getrandbits(12)
        self.msgs.append(itch.encode(itch.make(type_, timestamp=self.t, **fields)))

    def ref(self) -> int:
        self.next_ref += 1
        return self.next_ref

    def open(self, stocks: dict[int, str]) -> None:
        """System event O, a directory entry per locate, system events S and Q."""
        self.msg("S", event_code="O")
        for locate, name in stocks.items():
            self.directory(locate, name)
        self.msg("S", event_code="S")
        self.msg("S", event_code="Q")

    def close(self) -> list[bytes]:
        self.msg("S", event_code="M")
        self.msg("S", event_code="C")
        return list(pack_messages(self.msgs, end_of_session=True))

    def directory(self, locate: int, name: str) -> None:
        self.msg("R", stock_locate=locate, stock=name, market_category="Q", financial_status_indicator="N",
                 round_lot_size=100, round_lots_only="N", issue_classification="C", issue_sub_type="Z",
                 authenticity="P", short_sale_threshold_indicator="N", ipo_flag="N",
                 luld_reference_price_tier="1", etp_flag="N", inverse_indicator="N")

    def add(self, ref: int, locate: int, side: str, shares: int, price: int, stock: str = "") -> None:
        """A (or F, one in four) of a new order; a live reference of the same number is replaced."""
        t = "F" if self.rng.getrandbits(2) == 0 else "A"
        extra = {"attribution": "VIRT"} if t == "F" else {}
        self.msg(t, stock_locate=locate, order_reference_number=ref, buy_sell_indicator=side, shares=shares,
                 stock=stock or f"S{locate}", price=price, **extra)
        self.live.pop(ref, None)
        if shares and price and side in "BS":
            self.live[ref] = [locate, side, price, shares]

    def _locate(self, ref: int, locate: int | None) -> int:
        return locate if locate is not None else self.live[ref][0] if ref in self.live else 1

    def _take(self, ref: int, shares: int) -> None:
        o = self.live.get(ref)
        if o is not None:
            o[3] -= shares
            if o[3] <= 0:
                del self.live[ref]

    def execute(self, ref: int, shares: int, price: int | None = None, locate: int | None = None) -> None:
        """E, or C at `price` (printable or not at random)."""
        self.match += 1
        loc = self._locate(ref, locate)
        if price is None:
            self.msg("E", stock_locate=loc, order_reference_number=ref, executed_shares=shares,
                     match_number=self.match)
        else:
            self.msg("C", stock_locate=loc, order_reference_number=ref, executed_shares=shares,
                     match_number=self.match, printable="YN"[self.rng.getrandbits(1)], execution_price=price)
        self._take(ref, shares)

    def cancel(self, ref: int, shares: int, locate: int | None = None) -> None:
        self.msg("X", stock_locate=self._locate(ref, locate), order_reference_number=ref, cancelled_shares=shares)
        self._take(ref, shares)

    def delete(self, ref: int, locate: int | None = None) -> None:
        self.msg("D", stock_locate=self._locate(ref, locate), order_reference_number=ref)
        self.live.pop(ref, None)

    def replace(self, ref: int, new_ref: int, shares: int, price: int, locate: int | None = None) -> None:
        loc = self._locate(ref, locate)
        self.msg("U", stock_locate=loc, original_order_reference_number=ref, new_order_reference_number=new_ref,
                 shares=shares, price=price)
        o = self.live.pop(ref, None)
        if o is not None and shares and price:
            self.live.pop(new_ref, None)
            self.live[new_ref] = [o[0], o[1], price, shares]

    def trade(self, locate: int, shares: int, price: int) -> None:
        self.match += 1
        self.msg("P", stock_locate=locate, buy_sell_indicator="BS"[self.rng.getrandbits(1)], shares=shares,
                 stock=f"S{locate}", price=price, match_number=self.match)

    def cross(self, locate: int, shares: int, price: int) -> None:
        self.match += 1
        self.msg("Q", stock_locate=locate, shares=shares, stock=f"S{locate}", cross_price=price,
                 match_number=self.match, cross_type="C")

    def halt(self, locate: int, state: str) -> None:
        self.msg("H", stock_locate=locate, stock=f"S{locate}", trading_state=state, reason="LUDP" if state != "T"
                 else "")

    def reduce_some(self, ref: int) -> None:
        """A random reduction of a live order: partial or whole, E, C, X or D, sometimes oversized."""
        rng, (_loc, _side, price, shares) = self.rng, self.live[ref]
        r = rng.random()
        part = max(1, shares // rng.choice((1, 2, 3))) + (rng.randrange(50) if rng.random() < 0.1 else 0)
        if r < 0.3:
            self.execute(ref, part)
        elif r < 0.45:
            self.execute(ref, part, price=price)
        elif r < 0.7:
            self.cancel(ref, part)
        else:
            self.delete(ref)
