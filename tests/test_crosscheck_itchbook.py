"""The reference model's top of book equals itch-book's after every message, on generated streams."""

from __future__ import annotations

import numpy as np
import pytest

from tests.oracles import itchbook_bbo, model_bbo, model_events


def first_difference(a: np.ndarray, b: np.ndarray) -> str:
    n = min(len(a), len(b))
    bad = np.nonzero((a[:n] != b[:n]).any(axis=1))[0]
    i = int(bad[0]) if len(bad) else n
    return f"row {i}: model {a[i].tolist() if i < len(a) else None} itch-book {b[i].tolist() if i < len(b) else None}"


@pytest.mark.parametrize("messages, symbols, seed", [(40_000, 200, 1), (20_000, 300, 2), (5_000, 1, 3)])
def test_bbo_after_every_message_equals_itchbook(generated, messages, symbols, seed):
    path = generated(messages, symbols, seed)
    events, card = model_events(path)
    ours = model_bbo(events)
    theirs, stats = itchbook_bbo(path)
    assert stats["messages"] == messages and stats["missing_ref"] == 0 and stats["crossed_books"] == 0
    assert card.counters["messages"] == messages
    assert len(ours) > messages // 4  # the stream really moves the top of book
    assert len(ours) == len(theirs) and np.array_equal(ours, theirs), first_difference(ours, theirs)


def test_meatpy_sample_equals_itchbook(shared_data):
    path = shared_data / "itch" / "meatpy_synthetic_20msgs.itch50"
    ours = model_bbo(model_events(path)[0])
    theirs, _ = itchbook_bbo(path)
    assert len(ours) == 8 and np.array_equal(ours, theirs), first_difference(ours, theirs)
