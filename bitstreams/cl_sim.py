"""The F1 custom logic as one Verilog file for Verilator: core + CL top + shell stand-in, cached like sim.build.

`sim_source(config)` writes `<build_root>/cl_<config>-<hash>/cl_sim.sv` (TICKGATE_STANDALONE defined, top module
`tickgate_f1_shell`) with its alias waivers beside it (`cl_sim.vlt`); `sim.build.cocotb_build` and
`sim.verilator.lint` take it as they take any generated Verilog.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tickgate.sim.build import _SRC_ATTR, _write_if_changed, build_root
from tickgate.sim.waivers import alias_waivers

from .cl_core import ClCore
from .cl_top import CORE_MODULE, SHELL_MODULE, cl_top, shell_standin
from .configs import BitstreamConfig

__all__ = ["SIM_FILE", "cl_waivers", "core_verilog", "sim_source"]

SIM_FILE = "cl_sim.sv"

#: (rule, message pattern, why) of the design's own lint waivers, on top of sim/amaranth.vlt and the aliases.
WAIVERS: tuple[tuple[str, str, str], ...] = (
    ("UNUSEDSIGNAL", "*Bits of signal are not used: 'bus__awaddr'[19:0]*",
     "PCIS write address bits inside a window: the windows are FIFO ports (hdl/pcis.py)"),
    ("UNUSEDSIGNAL", "*Bits of signal are not used: 'bus__araddr'[19:0]*",
     "PCIS read address bits inside a window: the windows are FIFO ports (hdl/pcis.py)"),
)

#: Only in the stand-in build: register-block and unframer outputs the decoder-only stand-in leaves unconnected.
STANDIN_WAIVERS: tuple[tuple[str, str, str], ...] = tuple(
    ("UNUSEDSIGNAL", f"*Signal is not used: '{name}'*", "stand-in pipeline (bitstreams/standin.py) only")
    for name in ("latency", "latency.latency_count", "latency.latency_sum", "dma_bad_length", "dma_skipped"))


def cl_waivers(*, standin: bool) -> str:
    """Verilator control lines for `WAIVERS` (and `STANDIN_WAIVERS` for the stand-in build), on cl_sim.sv only."""
    lines = ["// The CL's own waivers (tickgate.bitstreams.cl_sim)"]
    for rule, pattern, why in (*WAIVERS, *(STANDIN_WAIVERS if standin else ())):
        lines += [f"// {why}", f'lint_off -rule {rule} -file "*/{SIM_FILE}" -match "{pattern}"']
    return "\n".join(lines) + "\n"


def core_verilog(config: BitstreamConfig, *, standin: bool = False) -> str:
    """The Amaranth core (`tickgate_core`) of `config` as Verilog: the pipeline, or the stand-in, behind the buses."""
    from amaranth.back import verilog

    factory = config.standin if standin else config.pipeline
    core = ClCore(factory, ingress_depth=config.ingress_depth, egress_depth=config.egress_depth)
    return verilog.convert(core, name=CORE_MODULE)


def sim_source(config: BitstreamConfig, *, standin: bool = False, core: str | None = None) -> Path:
    """The whole CL with the shell stand-in in one file for Verilator (see the module docstring); its path.

    `core` is the core's Verilog if already made (`core_verilog(config, standin=standin)`; it is made otherwise).
    """
    core = core_verilog(config, standin=standin) if core is None else core
    text = "\n".join(("`define TICKGATE_STANDALONE", core, cl_top(config.name), shell_standin()))
    key = hashlib.sha256(json.dumps([config.as_dict(), standin, _SRC_ATTR.sub("", text)]).encode()).hexdigest()[:12]
    folder = build_root() / f"cl_{config.name}{'_standin' if standin else ''}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SIM_FILE
    _write_if_changed(path, text)
    _write_if_changed(path.with_suffix(".vlt"), alias_waivers(text, SIM_FILE) + cl_waivers(standin=standin))
    _write_if_changed(folder / "config.json", json.dumps({"top": SHELL_MODULE, "config": config.as_dict(),
                                                          "standin": standin}) + "\n")
    return path
