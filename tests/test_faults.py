"""The faults differential fuzzing found (issue 17), each pinned: the reference model and the C++ card agree
byte for byte and counter for counter, and follow the rule the model's docstrings write down.

The RTL side of the same cases is in `driver/test_sim_backend.py` (`test_faults_of_issue_17`)."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.model.card import CardConfig, ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.events import EventKind, comparable

U64 = 1 << 64
SESSION = "TICKGATE01"


def system_event(code: str = "O") -> bytes:
    return itch.encode(itch.make("S", timestamp=1, event_code=code))


def add(ref: int, shares: int, price: int = 1_000_000, side: str = "B", locate: int = 1) -> bytes:
    return itch.encode(itch.make("A", stock_locate=locate, timestamp=2, order_reference_number=ref,
                                 buy_sell_indicator=side, shares=shares, stock="AAA", price=price))


def delete(ref: int, locate: int = 1) -> bytes:
    return itch.encode(itch.make("D", stock_locate=locate, timestamp=3, order_reference_number=ref))


def both(packets: list[bytes], config: CardConfig | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Feed the model and the C++ card (through the DMA batches); assert they agree; the model's output."""
    model, card = open_backend("model", config), open_backend("software", config)
    for n, p in enumerate(packets, 1):
        model.feed(p, n)
        card.feed(p, n)
    want, got = model.take_events(), card.take_events()
    assert len(got) == len(want)
    assert np.array_equal(comparable(got), comparable(want))
    assert card.counters() == model.counters()
    return want, model.counters()


# 1, 2: sequence numbers at and past 2**64


def test_a_packet_running_past_2_64_is_framed() -> None:
    """Issue 17 fault 1: seq 2**64-1 with one message was a duplicate in the C++ card (`seq + count` wrapped)."""
    ev, c = both([mold.build(SESSION, U64 - 1, [system_event()])])
    assert c["messages"] == 1 and c["packets_duplicate"] == 0
    assert list(ev["seq"]) == [U64 - 1]


def test_messages_past_2_64_carry_their_number_modulo_2_64() -> None:
    """Issue 17 fault 2: the model raised struct.error for a message numbered 2**64; now every event carries
    it modulo 2**64, and the session, which then expects 2**64 + k, sees later packets as repeats."""
    packets = [
        mold.build(SESSION, U64 - 2, [system_event("O"), system_event("S"), system_event("Q")]),
        mold.build(SESSION, U64 - 1, [system_event("Q"), system_event("M"), system_event("E")]),  # 2 repeated
        mold.build(SESSION, U64 - 1, [system_event("C")]),  # wholly repeated
        mold.heartbeat(SESSION, U64 - 1),
    ]
    ev, c = both(packets)
    assert list(ev["seq"]) == [U64 - 2, U64 - 1, 0, 1]
    assert c["messages"] == 4 and c["messages_duplicate"] == 2 and c["packets_duplicate"] == 1
    assert c["seq_gaps"] == 0


def test_first_sequence_past_2_64_is_refused() -> None:
    for bad in (-1, U64):
        with pytest.raises(ValueError, match="first_sequence"):
            CardConfig(first_sequence=bad)


# 5: counters are 64-bit


def test_messages_missed_wraps_at_2_64() -> None:
    """Issue 17 fault 5: two gaps of almost 2**64 messages; the model's count passed 2**64 where the C++ card
    and the RTL wrap."""
    packets = [
        mold.build(SESSION, U64 - 1, [system_event()]),  # gap from first_sequence 0
        mold.end_of_session(SESSION, U64 - 1),
        mold.build("OTHER00001", 1, [system_event()]),  # a new session, adopted from seq 1
        mold.build("OTHER00001", U64 - 1, [system_event()]),  # gap of 2**64 - 3
    ]
    _, c = both(packets, CardConfig(first_sequence=0))
    assert c["seq_gaps"] == 2
    assert c["messages_missed"] == ((U64 - 1) + (U64 - 3)) % U64


# 3: a level's shares past 2**32 - 1


def test_level_shares_saturate_and_degrade() -> None:
    """Issue 17 fault 3: two adds at one price of 0xFFFFFFFF and 1 shares. The level holds 0xFFFFFFFF (it is
    full), the symbol is degraded with an event and `levels_full`; deletes take shares off the held sum, so
    the level goes with an order still on it (the book says it is degraded), whose delete is `level_missing`."""
    packets = [mold.build(SESSION, 1, [add(1, 0xFFFF_FFFF), add(2, 1), add(3, 5), delete(2), delete(1), delete(3)])]
    ev, c = both(packets, CardConfig(max_levels=4, level_events=True))
    bbo = ev[ev["kind"] == EventKind.BBO]
    assert [int(b["bid_sz"]) for b in bbo] == [0xFFFF_FFFF, 0xFFFF_FFFE, 0]
    degraded = ev[ev["kind"] == EventKind.DEGRADED]
    assert len(degraded) == 1 and c["levels_full"] == 2 and c["degraded_symbols"] == 1 and c["level_missing"] == 1


def test_level_shares_saturate_unbounded_book() -> None:
    packets = [mold.build(SESSION, 1, [add(1, 0xFFFF_FFFF), add(2, 0xFFFF_FFFF), delete(1)])]
    ev, c = both(packets)
    assert [int(b["bid_sz"]) for b in ev[ev["kind"] == EventKind.BBO]] == [0xFFFF_FFFF, 0]
    assert c["levels_full"] == 1 and c["degraded_symbols"] == 1


# 4, 6: the longest packet


def test_a_packet_too_long_for_the_card_is_counted_and_the_backend_lives() -> None:
    """Issue 17 fault 4: a packet over 65,535 bytes could not be framed for DMA and killed the backend. It is
    refused (`packets_oversize`) by the host on the DMA path and by the model, and everything after it works."""
    big = mold.build(SESSION, 1, [system_event()] * 6000)  # 6000 blocks of 14 bytes: 72,020 bytes
    assert len(big) > mold.MAX_PACKET
    packets = [mold.build(SESSION, 1, [system_event()]), big, mold.build(SESSION, 6002, [system_event()]),
               b"", mold.build(SESSION, 6003, [b"\x00" * 1512])]  # empty; one 1,532-byte packet
    _, c = both(packets)
    assert c["packets_oversize"] == 1 and c["packets"] == 4 and c["packets_malformed"] == 1
    assert c["seq_gaps"] == 1 and c["messages_missed"] == 6000
    assert len(ReferenceCard().run([(big, 0)])) == 0


def test_the_software_card_counts_an_oversize_packet_fed_directly() -> None:
    from tickgate._driver import SoftwareCard

    card = SoftwareCard()
    card.feed(bytes(mold.MAX_PACKET + 1), 0)
    assert card.counters()["packets_oversize"] == 1 and card.counters()["packets"] == 0
