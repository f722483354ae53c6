"""CardConfig: the one validation of a card configuration, shared by every backend (each is configured from a
CardConfig). Each refusal has its own message; whatever the C++ card refuses, CardConfig refuses first."""

from __future__ import annotations

import pytest

from tickgate.protocol.config import CardConfig, OrderTableConfig

BAD = [
    ({"session": b"SHORT"}, "session must be the 10 bytes"),
    ({"session": b"TICKGATE001"}, "session must be the 10 bytes"),
    ({"session": "TICKGATE01"}, "session must be the 10 bytes"),
    ({"session": "TICKGATÉ01".encode()}, "session must be the 10 bytes"),
    ({"session": b"TICKGATE\x0001"}, "session must be the 10 bytes"),
    ({"symbols": frozenset({"ÄPPL"})}, "printable ASCII"),
    ({"symbols": frozenset({""})}, "1 to 8"),
    ({"symbols": frozenset({"TOOLONGSYM"})}, "1 to 8"),
    ({"symbols": frozenset({"A B"})}, "without spaces"),
    ({"symbols": "AAPL"}, "not the one string"),
    ({"first_sequence": -1}, "first_sequence must be an integer from 0 to 2\\*\\*64 - 1"),
    ({"first_sequence": 1 << 64}, "first_sequence"),
    ({"first_sequence": 1.0}, "first_sequence"),
    ({"first_sequence": True}, "first_sequence"),
    ({"max_levels": 0}, "max_levels must be an integer of at least 1"),
    ({"max_symbols": -3}, "max_symbols must be"),
    ({"max_levels": 2.5}, "max_levels must be"),
    ({"level_events": True}, "level_events needs max_levels"),
    ({"level_events": True, "max_levels": 256}, "level_events needs max_levels"),
    ({"order_table": (8, 4, 4)}, "order_table must be an OrderTableConfig"),
]


@pytest.mark.parametrize(("kw", "message"), BAD)
def test_each_refusal_says_why(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CardConfig(**kw)


def test_good_configurations() -> None:
    CardConfig(session=b"TICKGATE01", first_sequence=0, symbols=frozenset({"AAPL", "BRK.A", "ZVZZT"}))
    CardConfig(first_sequence=(1 << 64) - 1, max_levels=255, level_events=True, max_symbols=1,
               order_table=OrderTableConfig(1, 1, 0))


def test_what_the_cpp_card_refuses_cardconfig_refuses() -> None:
    from tickgate._driver import SoftwareCard

    cpp_refused = [{"session": b"SHORT"}, {"symbols": ["ÄPPL"]}, {"symbols": [""]}, {"first_sequence": -1},
                   {"first_sequence": 1 << 64}, {"max_levels": 0}, {"level_events": True}]
    for kw in cpp_refused:
        symbols = kw.get("symbols")
        rest = {k: v for k, v in kw.items() if k != "symbols"}
        with pytest.raises((ValueError, TypeError)):
            SoftwareCard(symbols, **rest)
        with pytest.raises(ValueError):
            CardConfig(symbols=None if symbols is None else frozenset(symbols), **rest)
