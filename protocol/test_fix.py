"""protocol.fix: exact Price(4) <-> FIX price text, and reject reasons as text."""

from __future__ import annotations

import pytest

from tickgate.protocol.fix import CXL_REJ_REASONS, ORD_REJ_REASONS, price4, price_text, reject_text


@pytest.mark.parametrize("p4, text", [(1_002_500, "100.25"), (1_000_000, "100"), (1, "0.0001"), (0, "0"),
                                      (1_999_999_999, "199999.9999"), (-12_345, "-1.2345")])
def test_price_text_and_back_are_exact(p4: int, text: str):
    assert price_text(p4) == text
    assert price4(text) == p4


def test_price4_reads_what_venues_write():
    assert price4("100.250000") == 1_002_500 and price4(".5") == 5_000 and price4("+7") == 70_000
    assert price4("1.23455") == 12_346 and price4("1.23454") == 12_345  # past 4 decimals: half up
    for bad in ("", "1.2.3", "abc", "1e5", "-"):
        with pytest.raises(ValueError, match="not a decimal number"):
            price4(bad)


def test_reject_text_names_the_code_and_keeps_the_venue_text():
    assert reject_text(ORD_REJ_REASONS, 1, "Invalid Symbol (0x0017)") == "Unknown symbol (1): Invalid Symbol (0x0017)"
    assert reject_text(CXL_REJ_REASONS, 0) == "Too late to cancel (0)"
    assert reject_text(ORD_REJ_REASONS, 42) == "Unknown reason (42)"
