"""The F1 custom logic: lint-clean with the shell stand-in, and end to end under Verilator + cocotb (cocotbext-axi).

The CL test runs the whole CL (`cl_tickgate` in `tickgate_f1_shell`) on a small configuration: a generated
feed goes in as DMA batches over PCIS, the events come back over PCIS, and they equal the model's byte for
byte. Until `hdl/pipeline.py` exists the CL holds the stand-in pipeline (decoder only, `bitstreams.standin`)
and the events are the reference decoder's records; with the pipeline they are `model.card.ReferenceCard`'s.
"""

from __future__ import annotations

import json
import random
import sys
import time

import numpy as np
import pytest

from tickgate.hdl.decoder import DECODER_COUNTERS
from tickgate.hdl.layouts import DecodedRecord
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE, comparable
from tickgate.protocol.moldudp64 import pack_dma
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.sim import verilator
from tickgate.sim.build import cocotb_build, cocotb_test
from tickgate.sim.cocotb.payload import PayloadCodec

from .cl_sim import sim_source
from .cl_top import SHELL_MODULE
from .configs import CONFIGS

CONFIG = CONFIGS["small"]
BATCH_BYTES = 2048  # a DMA batch (at most ingress_free: the small configuration buffers 4 KiB)


def _has_pipeline() -> bool:
    try:
        import tickgate.hdl.pipeline  # noqa: F401
    except ImportError:
        return False
    return True


STANDIN = not _has_pipeline()


def feed(messages: int = 1500, symbols: int = 6, seed: int = 11) -> list[tuple[bytes, int]]:
    """(packet, rx_time) pairs of a generated session, packets of varied sizes."""
    rng = random.Random(seed)
    msgs = list(generate(messages, symbols, seed))
    packets, pos = [], 0
    while pos < len(msgs):
        n = rng.randint(1, 30)
        packets += list(pack_messages(msgs[pos:pos + n], first_sequence=pos + 1, max_payload=1400))
        pos += n
    return [(p, 1_000_000 + 977 * i) for i, p in enumerate(packets)]


def batches(packets: list[tuple[bytes, int]]) -> list[bytes]:
    """Packets grouped into DMA batches of at most BATCH_BYTES."""
    out: list[bytes] = []
    group: list[tuple[bytes, int]] = []
    for p in packets:
        if group and len(pack_dma([*group, p])) > BATCH_BYTES:
            out.append(pack_dma(group))
            group = []
        group.append(p)
    return [*out, pack_dma(group)]


def expected(packets: list[tuple[bytes, int]]) -> tuple[bytes, dict[str, int], list[str]]:
    """What the CL must emit: the event bytes, the counters to compare and their names."""
    if STANDIN:
        from tickgate.model.decoder import ReferenceDecoder

        ref = ReferenceDecoder()
        for p, rx in packets:
            ref.feed(p, rx)
        codec = PayloadCodec(DecodedRecord)
        events = b"".join((codec.pack(r) & (1 << 512) - 1).to_bytes(EVENT_SIZE, "little") for r in ref.records)
        names = [n for n in DECODER_COUNTERS if n in REGISTER_MAP]
        return events, {n: ref.counters[n] for n in names}, names
    from tickgate.sim.pipeline_run import RunConfig, pipeline_stimulus

    stim = pipeline_stimulus([p for p, _ in packets], CONFIG.geometry(), RunConfig(), input="dma")
    names = [n for n in stim.counters if n in REGISTER_MAP]
    return stim.events.tobytes(), {n: stim.counters[n] for n in names}, names


def setup_writes() -> list[list[int]]:
    """Register writes before the feed: the run configuration of `sim.pipeline_run.RunConfig()` (enabled,
    every symbol tracked, level events on), the one `expected` gives the model."""
    if STANDIN:
        return []
    from tickgate.sim.pipeline_run import RunConfig

    return [list(w) for w in RunConfig().registers()]


def _module_of_each_line(text: str) -> list[str]:
    """The module each line of a Verilog text belongs to ('' before the first)."""
    modules, current = [], ""
    for line in text.splitlines():
        if line.startswith("module "):
            current = line.split()[1].lstrip("\\").split("(")[0]
        modules.append(current)
    return modules


def test_cl_with_the_standin_lints_clean():
    """The CL's own parts (top, shell stand-in, buses, PCIS bridge, DMA unframer) with the decoder-only stand-in."""
    path = sim_source(CONFIG, standin=True)
    assert verilator.lint(path, SHELL_MODULE) == []
    unwaived = verilator.lint(path, SHELL_MODULE, waivers=[])
    assert not [m for m in unwaived if m.startswith("%Error")], unwaived[:5]


@pytest.mark.skipif(STANDIN, reason="hdl/pipeline.py is not there yet")
def test_cl_with_the_pipeline_lints_clean(capsys):
    """With the real pipeline: nothing outside the pipeline's own modules warns (their lint is the pipeline's)."""
    path = sim_source(CONFIG)
    modules = _module_of_each_line(path.read_text())
    messages = verilator.lint(path, SHELL_MODULE)
    where = [modules[int(m.split(f"{path.name}:")[1].split(":")[0]) - 1] if f"{path.name}:" in m else "?"
             for m in messages]
    ours = [m for m, mod in zip(messages, where, strict=True) if not mod.startswith("tickgate_core.pipeline")]
    assert ours == []
    if messages:
        with capsys.disabled():
            print(f"\n  CL lint with the pipeline: {len(messages)} warnings, all inside the pipeline's modules "
                  f"{verilator.warning_kinds(messages)}", file=sys.stderr)


def test_cl_end_to_end_equals_the_model(tmp_path, capsys):
    packets = feed()
    want_events, want_counters, names = expected(packets)
    stimulus = tmp_path / "batches.bin"
    batch_list = batches(packets)
    stimulus.write_bytes(b"".join(len(b).to_bytes(4, "little") + b for b in batch_list))
    out = tmp_path / "cl.json"
    setup = {"writes": setup_writes(), "events": len(want_events) // EVENT_SIZE, "counters": names,
             "ingress_depth": CONFIG.ingress_depth, "egress_depth": CONFIG.egress_depth}
    build = cocotb_build(sim_source(CONFIG, standin=STANDIN), SHELL_MODULE)
    built = time.monotonic()
    cocotb_test(build, "tickgate.sim.cocotb.tb_cl", env={"TB_STIMULUS": str(stimulus), "TB_OUTPUT": str(out),
                                                         "TB_SETUP": json.dumps(setup)})
    ran = time.monotonic()
    result = json.loads(out.read_text())
    got = out.with_name(out.name + ".events").read_bytes()
    assert len(got) == len(want_events) and result["events"] > 1000
    if STANDIN:
        assert got == want_events
    else:
        got_ev, want_ev = np.frombuffer(got, EVENT_DTYPE), np.frombuffer(want_events, EVENT_DTYPE)
        assert comparable(got_ev).tobytes() == comparable(want_ev).tobytes()
    assert result["counters"] == want_counters
    assert result["ingress_free_end"] == 64 * CONFIG.ingress_depth
    with capsys.disabled():
        print(f"\n  CL ({'stand-in' if STANDIN else 'pipeline'}, {CONFIG.name}): {len(packets)} packets in "
              f"{len(batch_list)} DMA batches, {result['events']} events equal to the model's; Verilator build "
              f"{build.seconds:.0f} s ({'cached' if build.cached else 'built'}), run {ran - built:.0f} s",
              file=sys.stderr)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_configs_are_consistent(name):
    c = CONFIGS[name]
    assert c.clock_recipe == "A1" and c.clock_mhz == 250.0
    assert c.order_capacity == 2 * (1 << c.order_bucket_bits) * c.order_ways + c.order_stash
    assert c.as_dict()["name"] == name
    assert 64 * CONFIGS["small"].ingress_depth >= BATCH_BYTES
