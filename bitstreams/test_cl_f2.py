"""The F2 custom logic: its files, lint-clean with the shell stand-in, and end to end under Verilator + cocotb.

The CL test runs `cl_tickgate` in `tickgate_f2_shell` on the small configuration: a generated feed goes in as
DMA batches stored over PCIS, the events come back over PCIM into a 64-record host ring in an AXI RAM, read the
way the host reads them, and they equal `model.card.ReferenceCard`'s byte for byte (ts_local excepted) across
ring wraps, a full ring with a stalling host, and a ring reset; the counters equal the model's. It reports the
latency of paced packets in cycles, last PCIS W beat -> first event's PCIM W beat.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time

import numpy as np

from tickgate.hdl.pipeline import RING_COUNTERS
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.model.card import ReferenceCard
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE, EventKind, comparable
from tickgate.protocol.f2_map import cl_sh_id0, cl_sh_id1
from tickgate.protocol.moldudp64 import pack_dma
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.sim import verilator
from tickgate.sim.build import cocotb_build, cocotb_test
from tickgate.sim.pipeline_run import RunConfig

from .cl_sim import shell_module, sim_source
from .cl_top_f2 import PCIM_PORTS, PCIS_PORTS, SHELL_MODULE, cl_id_defines, cl_top
from .configs import CONFIGS
from .test_cl import _module_of_each_line, batches

CONFIG = CONFIGS["small"]
MESSAGES = 2500  # of the generated feed
PACED = 24  # packets sent one at a time for the latency figure
AFTER_RESET = 30  # packets sent after the ring reset
SIZE_LOG2 = 6  # a 64-record ring: one page


def test_cl_id_defines_and_ports_follow_the_contract():
    text = cl_id_defines()
    assert re.search(r"`define CL_SH_ID0\s+32'hF074_1D0F", text) and f"{cl_sh_id0():08X}" == "F0741D0F"
    assert re.search(r"`define CL_SH_ID1\s+32'h7467_1D0F", text) and f"{cl_sh_id1():08X}" == "74671D0F"
    top = cl_top(CONFIG.name)
    for name in ("ocl_cl_awaddr", "cl_ocl_rdata", "sh_cl_dma_pcis_awid", "cl_sh_dma_pcis_ruser", "cl_sh_pcim_awaddr",
                 "sh_cl_pcim_bresp", "cl_sh_status2", "rst_main_n_sync", "hbm_apb_pslverr_1", "PCIE_RP_PERSTN",
                 '`include "unused_ddr_template.inc"', '`include "cl_id_defines.vh"', "`CL_SH_ID0"):
        assert name in top, name
    from tickgate.hdl.pcim import pcim_signature

    assert {core for *_, core in PCIM_PORTS} == set(pcim_signature().members)
    assert {core for *_, core in PCIS_PORTS} == set(pcim_signature().members)  # the same AXI-4 shape


def test_cl_f2_with_the_standin_lints_clean():
    path = sim_source(CONFIG, standin=True, platform="f2")
    assert verilator.lint(path, SHELL_MODULE) == []
    unwaived = verilator.lint(path, SHELL_MODULE, waivers=[])
    assert not [m for m in unwaived if m.startswith("%Error")], unwaived[:5]


def test_cl_f2_with_the_pipeline_lints_clean(capsys):
    """Nothing outside the pipeline's own modules warns (their lint is the pipeline's)."""
    path = sim_source(CONFIG, platform="f2")
    modules = _module_of_each_line(path.read_text())
    messages = verilator.lint(path, SHELL_MODULE)
    where = [modules[int(m.split(f"{path.name}:")[1].split(":")[0]) - 1] if f"{path.name}:" in m else "?"
             for m in messages]
    ours = [m for m, mod in zip(messages, where, strict=True) if not mod.startswith("tickgate_core.pipeline")]
    assert ours == []
    with capsys.disabled():
        print(f"\n  F2 CL lint with the pipeline: {len(messages)} warnings inside the pipeline's modules "
              f"{verilator.warning_kinds(messages)}, none elsewhere", file=sys.stderr)


def feed(messages: int, seed: int, symbols: int = 6) -> list[tuple[bytes, int]]:
    """(packet, rx_time) pairs of a generated session: PACED packets of one message each, then packets of 1 to 30."""
    rng = random.Random(seed)
    msgs = list(generate(messages, symbols, seed))
    packets, pos = [], 0
    while pos < len(msgs):
        n = 1 if pos < PACED else rng.randint(1, 30)
        packets += list(pack_messages(msgs[pos:pos + n], first_sequence=pos + 1, max_payload=1400))
        pos += n
    return [(p, 1_000_000 + 977 * i) for i, p in enumerate(packets)]


def events_per_packet(packets: list[tuple[bytes, int]]) -> tuple[np.ndarray, list[int], dict[str, int]]:
    """The model's events for the whole feed, how many each packet causes, and its counters."""
    card = ReferenceCard(RunConfig().card_config(CONFIG.geometry()))
    chunks, counts = [], []
    for p, _rx in packets:
        card.feed(p)
        chunks.append(card.take_events())
        counts.append(len(chunks[-1]))
    return np.concatenate(chunks), counts, dict(card.counters)


def test_cl_f2_end_to_end_equals_the_model(tmp_path, capsys):
    packets = feed(messages=MESSAGES, seed=12)
    want, per_packet, model_counters = events_per_packet(packets)
    paced, bulk, post = packets[:PACED], packets[PACED:-AFTER_RESET], packets[-AFTER_RESET:]
    records = [(0, pack_dma([p])) for p in paced] + [(1, b) for b in batches(bulk)] + [(2, b) for b in batches(post)]
    stimulus = tmp_path / "phases.bin"
    stimulus.write_bytes(b"".join(bytes([phase]) + len(b).to_bytes(4, "little") + b for phase, b in records))
    names = [n for n in model_counters if n in REGISTER_MAP and n not in RING_COUNTERS]  # the model has no ring
    setup = {"writes": [list(w) for w in RunConfig().registers()], "paced_events": per_packet[:PACED],
             "bulk_events": sum(per_packet[PACED:-AFTER_RESET]), "events": len(want),
             "counters": [*names, *RING_COUNTERS], "ingress_depth": CONFIG.ingress_depth,
             "size_log2": SIZE_LOG2, "stall": [150, 2500]}
    out = tmp_path / "cl.json"
    build = cocotb_build(sim_source(CONFIG, platform="f2"), shell_module("f2"))
    built = time.monotonic()
    cocotb_test(build, "tickgate.sim.cocotb.tb_cl_f2", env={"TB_STIMULUS": str(stimulus), "TB_OUTPUT": str(out),
                                                            "TB_SETUP": json.dumps(setup)})
    ran = time.monotonic()
    result = json.loads(out.read_text())
    got = np.frombuffer(out.with_name(out.name + ".events").read_bytes(), EVENT_DTYPE)
    assert len(got) == len(want) > 1000 and len(want) > 5 * (1 << SIZE_LOG2)  # several wraps
    assert comparable(got).tobytes() == comparable(want).tobytes()
    counters = result["counters"]
    differ = {n: (counters[n], model_counters[n]) for n in names if counters[n] != model_counters[n]}
    assert not differ, differ
    assert counters["pcim_errors"] == 0
    assert result["ring_full_bulk"] > 0 and counters["ring_full"] >= result["ring_full_bulk"]  # held, not lost
    assert result["min_ingress_free"] < 64 * CONFIG.ingress_depth  # the held ring backed up to the ingress buffer
    assert result["producer_end"] == result["status2"] == sum(per_packet[-AFTER_RESET:])
    assert result["ingress_free_end"] == 64 * CONFIG.ingress_depth
    assert result["max_outstanding"] <= 32
    assert result["vled"] >> 5 & 1 == 1  # the ring_full flag (after the five PCIS flags)

    # Paced packets hold one message each: those with a top-of-book event, last PCIS beat -> first PCIM record beat.
    first = np.cumsum([0, *per_packet[:PACED]])
    tob = [cycles for n, cycles in result["latencies"]
           if (want[first[n]:first[n + 1]]["kind"] == EventKind.BBO).any()]
    assert len(tob) >= 3, "too few paced packets with a top-of-book event"
    with capsys.disabled():
        print(f"\n  F2 CL ({CONFIG.name}): {len(packets)} packets, {len(got)} events equal to the model's through a "
              f"{1 << SIZE_LOG2}-record host ring ({len(got) >> SIZE_LOG2} wraps, ring_full {counters['ring_full']}, "
              f"a reset); top-of-book latency, last PCIS W beat -> first PCIM W beat: min {min(tob)}, median "
              f"{int(np.median(tob))}, max {max(tob)} cycles over {len(tob)} packets; {result['cycles']} cycles; "
              f"Verilator build {build.seconds:.0f} s ({'cached' if build.cached else 'built'}), run "
              f"{ran - built:.0f} s", file=sys.stderr)
    assert EVENT_SIZE == 64
