"""The custom logic as one Verilog file for Verilator: core + CL top + shell stand-in, cached like sim.build.

`sim_source(config, platform=...)` writes `<build_root>/cl_<config>[_f2]-<hash>/cl_sim.sv` (TICKGATE_STANDALONE
defined, top module `tickgate_f1_shell` or `tickgate_f2_shell`) with its alias waivers beside it (`cl_sim.vlt`);
`sim.build.cocotb_build` and `sim.verilator.lint` take it as they take any generated Verilog. F1 (`cl_top`,
`cl_core`) is the legacy image; F2 (`cl_top_f2`, `cl_core_f2`) the current one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tickgate.sim.build import _SRC_ATTR, _write_if_changed, build_root
from tickgate.sim.waivers import alias_waivers

from . import cl_top_f2
from .cl_core import ClCore
from .cl_core_f2 import ClCoreF2, f2_pipeline
from .cl_top import CORE_MODULE, SHELL_MODULE, cl_top, shell_standin
from .configs import BitstreamConfig

__all__ = ["PLATFORMS", "SIM_FILE", "cl_waivers", "core_verilog", "shell_module", "sim_source"]

PLATFORMS = ("f1", "f2")

SIM_FILE = "cl_sim.sv"

#: (rule, message pattern, why) of the design's own lint waivers, on top of sim/amaranth.vlt and the aliases.
WAIVERS: tuple[tuple[str, str, str], ...] = (
    ("UNUSEDSIGNAL", "*Bits of signal are not used: 'bus__awaddr'[19:0]*",
     "PCIS write address bits inside a window: the windows are FIFO ports (hdl/pcis.py)"),
    ("UNUSEDSIGNAL", "*Bits of signal are not used: 'bus__araddr'[19:0]*",
     "PCIS read address bits inside a window: the windows are FIFO ports (hdl/pcis.py)"),
)

#: Only on F2: AXI signals of the shell's buses the design does not read, and the PCIM outputs the ring writer
#: drives with constants (Amaranth keeps the writer's named wire beside the constant it puts on the port).
F2_WAIVERS: tuple[tuple[str, str, str], ...] = (
    *(("UNUSEDSIGNAL", f"*Signal is not used: 'bus__{name}'*",
       "PCIS attributes and user bits the F2 shell does not support (errata) or a FIFO port ignores")
      for name in ("awcache", "awlock", "awprot", "awqos", "awuser", "wid", "wuser", "arburst", "arcache", "arlock",
                   "arprot", "arqos", "aruser")),
    *(("UNUSEDSIGNAL", f"*Signal is not used: 'bus__{name}'*",
       "PCIM read channel and BID: the ring writer never reads, and its writes under one ID answer in order")
      for name in ("bid", "arready", "rid", "rdata", "rresp", "rlast", "ruser", "rvalid")),
    *(("UNUSEDSIGNAL", f"*Signal is not used: 'bus__{name}*'*",
       "PCIM signals the ring writer drives with constants (one ID, 64-byte INCR beats, no attributes, no reads)")
      for name in ("awid", "awsize", "awburst", "awcache", "awlock", "awprot", "awqos", "awuser", "wid", "wuser",
                   "bready", "rready", "arid", "araddr", "arlen", "arsize", "arburst", "arcache", "arlock", "arprot",
                   "arqos", "aruser", "arvalid")),
)

#: Only in the stand-in build: register-block and unframer outputs the decoder-only stand-in leaves unconnected.
STANDIN_WAIVERS: tuple[tuple[str, str, str], ...] = tuple(
    ("UNUSEDSIGNAL", f"*Signal is not used: '{name}'*", "stand-in pipeline (bitstreams/standin.py) only")
    for name in ("latency", "latency.latency_count", "latency.latency_sum", "dma_bad_length", "dma_skipped"))


def cl_waivers(*, standin: bool, platform: str = "f1") -> str:
    """Verilator control lines for `WAIVERS` (and `STANDIN_WAIVERS` for the stand-in build, `F2_WAIVERS` on F2),
    on cl_sim.sv only."""
    lines = ["// The CL's own waivers (tickgate.bitstreams.cl_sim)"]
    for rule, pattern, why in (*WAIVERS, *(STANDIN_WAIVERS if standin else ()),
                               *(F2_WAIVERS if platform == "f2" else ())):
        lines += [f"// {why}", f'lint_off -rule {rule} -file "*/{SIM_FILE}" -match "{pattern}"']
    return "\n".join(lines) + "\n"


def _check(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {PLATFORMS}, not {platform!r}")


def shell_module(platform: str = "f1") -> str:
    """The top module of the simulation source of `platform`: the shell stand-in."""
    _check(platform)
    return SHELL_MODULE if platform == "f1" else cl_top_f2.SHELL_MODULE


def core_verilog(config: BitstreamConfig, *, standin: bool = False, platform: str = "f1") -> str:
    """The Amaranth core (`tickgate_core`) of `config` as Verilog: the pipeline, or the stand-in, behind the buses."""
    from amaranth.back import verilog

    _check(platform)
    if platform == "f2":
        core = ClCoreF2(f2_pipeline(config, standin=standin), ingress_depth=config.ingress_depth,
                        egress_depth=config.egress_depth)
    else:
        factory = config.standin if standin else config.pipeline
        core = ClCore(factory, ingress_depth=config.ingress_depth, egress_depth=config.egress_depth)
    return verilog.convert(core, name=CORE_MODULE)


def sim_source(config: BitstreamConfig, *, standin: bool = False, core: str | None = None,
               platform: str = "f1") -> Path:
    """The whole CL with the shell stand-in in one file for Verilator (see the module docstring); its path.

    `core` is the core's Verilog if already made (`core_verilog(config, standin=standin, platform=platform)`;
    it is made otherwise).
    """
    core = core_verilog(config, standin=standin, platform=platform) if core is None else core
    if platform == "f2":
        parts = (cl_top_f2.cl_id_defines(), core, cl_top_f2.cl_top(config.name), cl_top_f2.shell_standin())
    else:
        parts = (core, cl_top(config.name), shell_standin())
    text = "\n".join(("`define TICKGATE_STANDALONE", *parts))
    key = hashlib.sha256(json.dumps([config.as_dict(), standin, _SRC_ATTR.sub("", text)]).encode()).hexdigest()[:12]
    suffix = ("_standin" if standin else "") + ("_f2" if platform == "f2" else "")
    folder = build_root() / f"cl_{config.name}{suffix}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SIM_FILE
    _write_if_changed(path, text)
    _write_if_changed(path.with_suffix(".vlt"), alias_waivers(text, SIM_FILE)
                      + cl_waivers(standin=standin, platform=platform))
    _write_if_changed(folder / "config.json", json.dumps({"top": shell_module(platform), "config": config.as_dict(),
                                                          "standin": standin, "platform": platform}) + "\n")
    return path
