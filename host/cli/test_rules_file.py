"""`--rules RULES.json`: a rule table armed from the start, the same fires on the model and the C++ card; a
wrong file is a clear error naming the rule and the field (exit 2)."""

from __future__ import annotations

import json

import pytest

from tickgate.host.cli import main

RULES = [
    {"index": 0, "locate": 1, "condition": "spread_at_or_below", "threshold": 100_000, "side": "B", "shares": 100,
     "price": -100, "price_mode": "bid", "tif": "3", "tag": 7, "fires": 1000},
    {"index": 3, "locate": 2, "condition": "bid_imbalance", "threshold": 2 << 16, "side": "S", "shares": 10,
     "price": 5_000_000, "fires": 5},
]


def test_rules_file_armed_on_both_backends(tmp_path, capsys):
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(RULES))
    counters = []
    for backend in ("model", "software"):
        assert main(["replay", "gen:5000:5:1", "--backend", backend, "--rules", str(f), "--json",
                     "--no-progress"]) == 0
        counters.append(json.loads(capsys.readouterr().out.splitlines()[-1])["counters"])
    assert counters[0] == counters[1] and counters[0]["events_fire"] > 100 and counters[0]["rules_disarmed"] >= 1


@pytest.mark.parametrize(("rules", "message"), [
    ({"index": 0}, "expected a list of rules"),
    ([{**RULES[0], "index": -1}], "[0]: index must be an integer from 0 to 65535, not -1"),
    ([{**RULES[0], "condition": "nosuch"}], "[0]: condition 'nosuch' is not one of ask_at_or_below"),
    ([{**RULES[0], "side": "X"}], "[0]: rule side must be 'B' or 'S'"),
    ([RULES[0], {**RULES[1], "colour": 1}], "[1]: unknown fields ['colour']"),
    ([RULES[0], RULES[0]], "[1]: index 0 given twice"),
    ([{"index": 0, "locate": 1}], "[0]: missing condition, threshold, side, shares, price"),
])
def test_a_wrong_rules_file_names_the_rule_and_the_field(tmp_path, capsys, rules, message):
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(rules))
    assert main(["replay", "gen:100:2:1", "--backend", "model", "--rules", str(f), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(("extra", "message"), [
    (["--stage", "decoder", "--rules", "{f}"], "rules are armed in the pipeline's rule engine"),
    (["--armed", "{f}", "--rules", "{g}"], "--armed and --rules name different rule files"),
    (["--armed", "{g}"], "No such file"),
])
def test_sim_armed_options(tmp_path, capsys, extra, message):
    """`tickgate sim --armed RULES.json` is the pipeline stage's; what it refuses, before any simulator is built."""
    feed, f = tmp_path / "feed.itch50", tmp_path / "rules.json"
    f.write_text(json.dumps(RULES))
    assert main(["gen", str(feed), "--messages", "100", "--symbols", "2"]) == 0
    args = [a.format(f=f, g=tmp_path / "other.json") for a in extra]
    assert main(["sim", str(feed), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
