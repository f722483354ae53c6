"""The reference decoder stage: records per ITCH type, session notices in order, the card's accounting."""

from __future__ import annotations

from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.model.card import ReferenceCard
from tickgate.model.decoder import ReferenceDecoder
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.decoded import DECODED_FIELDS, DECODED_TYPES, Notice


def msg(t: str, **kw) -> bytes:
    return itch.encode(itch.make(t, **kw))


def test_record_fields_come_from_the_table():
    d = ReferenceDecoder()
    d.feed(mold.build("S", 1, [
        msg("A", stock_locate=7, timestamp=99, order_reference_number=5, buy_sell_indicator="S", shares=300,
            stock="AB", price=12345),
        msg("U", stock_locate=7, original_order_reference_number=5, new_order_reference_number=6, shares=1, price=2),
        msg("Q", stock_locate=7, shares=1 << 40, stock="AB", cross_price=77, match_number=8, cross_type="C"),
        msg("H", stock_locate=7, stock="AB", trading_state="T", reason="ABCD"),
    ]))
    a, u, q, h = d.records
    assert set(a) == {f.name for f in DECODED_FIELDS}
    assert (a["type"], a["seq"], a["locate"], a["timestamp"], a["ref"], a["side"], a["shares"], a["price"]) == (
        ord("A"), 1, 7, 99, 5, ord("S"), 300, 12345)
    assert a["stock"].to_bytes(8, "little") == b"AB      " and a["notice"] == 0
    assert (u["ref"], u["new_ref"], u["shares"], u["price"], u["side"]) == (5, 6, 1, 2, 0)
    assert (q["shares"], q["price"], q["match"], q["flag"], q["seq"]) == (1 << 40, 77, 8, ord("C"), 3)
    assert h["reason"].to_bytes(4, "little") == b"ABCD" and h["flag"] == ord("T")


def test_types_the_book_does_not_need_are_counted_not_recorded():
    d = ReferenceDecoder()
    d.feed(mold.build("S", 1, [msg("Y", stock_locate=1, stock="X", reg_sho_action="1"), msg("I"), msg("D")]))
    assert [r["type"] for r in d.records] == [ord("D")]
    assert (d.counters["type_Y"], d.counters["type_I"], d.counters["type_D"]) == (1, 1, 1)
    assert "Y" not in DECODED_TYPES and "I" not in DECODED_TYPES


def test_notices_are_in_order_with_the_messages():
    d = ReferenceDecoder()
    d.feed(mold.build("DAY1", 1, [msg("S", event_code="O")]))
    d.feed(mold.build("DAY1", 4, [msg("S", event_code="Q")]))  # gap of 2
    d.feed(mold.end_of_session("DAY1", 5))
    d.feed(mold.build("DAY2", 1, [msg("S", event_code="O")]))
    kinds = [(r["notice"], r["type"], r["seq"], r["ref"]) for r in d.records]
    assert kinds == [(0, ord("S"), 1, 0), (Notice.GAP, 0, 4, 2), (0, ord("S"), 4, 0),
                     (Notice.END_OF_SESSION, 0, 5, 0), (Notice.SESSION_CHANGED, 0, 1, 0), (0, ord("S"), 1, 0)]
    assert d.records[3]["session"].to_bytes(10, "little") == b"DAY1      "
    assert d.records[4]["session"].to_bytes(10, "little") == b"DAY2      "


def test_counts_equal_the_cards_on_a_generated_stream():
    packets = list(pack_messages(generate(3000, 20, 5), end_of_session=True))
    d, card = ReferenceDecoder(), ReferenceCard()
    for p in packets:
        d.feed(p)
        card.feed(p)
    stage = [k for k in d.counters if not k.startswith("events") and k not in _BOOK_COUNTERS]
    assert {k: d.counters[k] for k in stage} == {k: card.counters[k] for k in stage}
    assert d.counters["packets"] == len(packets) and d.counters["packets_end_of_session"] == 1
    typed = sum(v for k, v in d.counters.items() if k.startswith("type_"))
    assert typed == 3000 and len([r for r in d.records if r["notice"] == 0]) == sum(
        d.counters[f"type_{t}"] for t in DECODED_TYPES)


_BOOK_COUNTERS = {"untracked_symbol", "unknown_ref", "duplicate_ref", "oversized_reduce", "invalid_order",
                  "order_table_full", "levels_full", "symbols_full", "degraded_symbols"}
