"""The decoder scoreboard catches every kind of difference (no simulator: hand-made testbench output)."""

from __future__ import annotations

import copy

from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.sim.decoder_run import FIELD_NAMES, score, stage_counters, stimulus_from_packets


def perfect_output():
    d = itch.encode(itch.make("D", stock_locate=1, order_reference_number=7))
    stim = stimulus_from_packets([mold.build("S", 1, [d, d]), mold.build("S", 5, [d])])  # a gap before seq 5
    records = [[10 + i, *(rec[n] for n in FIELD_NAMES)] for i, rec in enumerate(stim.expected)]
    counters = {n: stim.counters[n] for n in stage_counters("decoder")}
    return stim, {"records": records, "in_cycles": list(range(8)), "counters": counters, "cycles": 20,
                  "wall_seconds": 1.0}


def test_identical_output_scores_clean():
    stim, out = perfect_output()
    assert len(stim.expected) == 4 and score(stim, out).mismatches == []


def test_every_difference_is_a_mismatch():
    stim, good = perfect_output()
    field = copy.deepcopy(good)
    field["records"][1][1 + FIELD_NAMES.index("ref")] += 1
    missing = copy.deepcopy(good)
    missing["records"].pop()
    extra = copy.deepcopy(good)
    extra["records"].append(extra["records"][0])
    counter = copy.deepcopy(good)
    counter["counters"]["seq_gaps"] += 1
    absent = copy.deepcopy(good)
    del absent["counters"]["type_D"]
    for out, words in ((field, "record 1"), (missing, "missing"), (extra, "unexpected"), (counter, "seq_gaps"),
                       (absent, "type_D")):
        mismatches = score(stim, out).mismatches
        assert len(mismatches) == 1 and words in mismatches[0], mismatches
