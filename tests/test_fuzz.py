"""The differential fuzzing harness (tests/fuzz_diff.py) in `make test`: a short deterministic run of the model
against the C++ card and a small sample into the Verilated pipeline; `make fuzz` is the long soak."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_diff as fz
from tickgate.protocol import itch

SHORT = settings(derandomize=True, database=None, deadline=None, max_examples=40,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SHORT
@given(st.data())
def test_model_and_cpp_card_agree(data: st.DataObject) -> None:
    fz.check(fz.case(fz.HypothesisDraw(data)))


@SHORT
@given(st.data())
def test_model_and_cpp_card_agree_on_two_lines(data: st.DataObject) -> None:
    """A/B lines: independent and shared loss, lag and reordering between the lines, repeats, a dead line."""
    fz.check(fz.ab_case(fz.HypothesisDraw(data), 16))


def test_model_and_pipeline_agree() -> None:
    """A sample into the Verilated pipeline (the library of `fz.rtl_geometry()`, built once): 30 seeded cases."""
    before = (fz.TALLY.rtl_cases, len(fz.TALLY.failures))
    for n in range(30):
        fz.check_rtl(fz.rtl_case(fz.RandomDraw(1000 + n), 12))
    assert fz.TALLY.rtl_cases - before[0] == 30 and len(fz.TALLY.failures) == before[1]


def test_seeded_soak_reaches_every_fault() -> None:
    """The soak's own generator: 1,000 packets, no failure, and every packet fault drawn."""
    before = (fz.TALLY.packets, len(fz.TALLY.failures))
    tally = fz.soak(fz.TALLY.packets + 1000, seed=7, progress=lambda s: None)
    assert tally.packets - before[0] >= 1000 and len(tally.failures) == before[1]
    drawn: set[str] = set()

    class Spy(fz.RandomDraw):
        def pick(self, seq):
            v = super().pick(seq)
            if seq is fz.FAULTS:
                drawn.add(v)
            return v

    for n in range(200):
        fz.case(Spy(n), 40)
    assert drawn == set(fz.FAULTS)


class Corrupt:
    """A backend wrapper that changes one event byte or one counter: the harness must notice."""

    name = "corrupt"

    def __init__(self, inner, what: str) -> None:
        self.inner, self.what = inner, what

    def feed(self, payload: bytes, rx_ns: int = 0, line: int = 0) -> None:
        self.inner.feed(payload, rx_ns, line)

    def end_of_input(self) -> None:
        self.inner.end_of_input()

    def take_events(self) -> np.ndarray:
        ev = self.inner.take_events().copy()
        if self.what == "event" and len(ev):
            ev["seq"][-1] ^= 1
        return ev

    def counters(self) -> dict[str, int]:
        c = self.inner.counters()
        if self.what == "counter":
            c["messages"] += 1
        return c


@pytest.mark.parametrize("what", ["event", "counter"])
def test_a_difference_is_caught(what: str) -> None:
    from tickgate.host.backend import open_backend

    c = fz.case(fz.RandomDraw(3), 10)
    system_event = itch.encode(itch.make("S", timestamp=1, event_code="O"))
    c = fz.Case(fz.CardConfig(), [fz.mold.build("TICKGATE01", 1, [system_event]), *c.packets])
    with pytest.raises(AssertionError, match="counters differ" if what == "counter" else "first difference"):
        fz.run_both(c, Corrupt(open_backend("software", c.config), what))
