"""The `sim` backend: the pipeline RTL, Verilated and driven from C++ inside this process.

The library is built per geometry by `tickgate.sim.verilated.build` (minutes the first time, then cached).
The device is `tickgate._driver.SimDevice` (C++, driver/sim_device.hpp), which loads the library and drives
its clock; `Backend` batches packets into DMA batches as for every device. A batch is simulated when it is
sent, until the pipeline has been idle for `quiet` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.host.backend import Backend
from tickgate.protocol.config import BookGeometry, CardConfig, register_writes
from tickgate.protocol.registers import REGISTER_MAP

__all__ = ["DEFAULT_QUIET", "SimOptions", "open_sim", "sim_geometry"]

#: Cycles without an event or a counter change after which a feed counts the pipeline as idle.
DEFAULT_QUIET = 256


def sim_geometry(config: CardConfig, geometry: BookGeometry | None = None) -> tuple[BookGeometry, list[str]]:
    """The geometry to build for `config`, and notes on what it bounds that the config leaves unbounded.

    Without `geometry`: the config's capacities (max_symbols, max_levels, order_table), BookGeometry()'s
    default where the config has None, and room for every tracked name. With one: the config's capacities
    must agree with it (or be None).
    """
    default = BookGeometry()
    wanted = {"symbols": config.max_symbols, "levels": config.max_levels, "order_table": config.order_table}
    names = len(config.symbols or ())
    if geometry is None:
        geometry = BookGeometry(**{k: getattr(default, k) if v is None else v for k, v in wanted.items()},
                                names=max(default.names, names))
    else:
        clash = [f"{k} {v} (config) vs {getattr(geometry, k)} (geometry)" for k, v in wanted.items()
                 if v is not None and v != getattr(geometry, k)]
        if clash:
            raise ValueError(f"the config's capacities disagree with the geometry: {'; '.join(clash)}")
        if names > geometry.names:
            raise ValueError(f"{names} symbols to track, the geometry holds {geometry.names} names")
    notes = [f"{k} {getattr(geometry, k)} (BookGeometry default; the config leaves it unbounded)"
             for k, v in wanted.items() if v is None]
    return geometry, notes


@dataclass(frozen=True)
class SimOptions:
    """What `open_sim` builds: the `geometry` (None: from the config, see `sim_geometry`), the `rules`
    entries of its rule engine (`cap_rules`; None: the config's `max_rules` when the config arms rules, else
    none, as before the gateware had one: a pipeline without rules builds and runs faster) and the `quiet`
    cycles without an event or a counter change that end a batch's simulation."""

    geometry: BookGeometry | None = None
    quiet: int = DEFAULT_QUIET
    rules: int | None = None


def open_sim(config: CardConfig | None = None, options: SimOptions | None = None) -> Backend:
    """The Verilated pipeline of the geometry (`tickgate._driver.SimDevice`), configured through its registers."""
    from tickgate._driver import SimDevice
    from tickgate.hdl.pipeline import pipeline_counters
    from tickgate.sim.verilated.build import library_for

    config = config or CardConfig()
    o = options or SimOptions()
    geometry, notes = sim_geometry(config, o.geometry)
    rules = o.rules if o.rules is not None else (config.max_rules if any(config.rules) else 0)
    library = library_for(geometry, rules)
    device = SimDevice(str(library), list(pipeline_counters("dma")), o.quiet)
    for name, value in register_writes(config):
        device.write_register(REGISTER_MAP[name].offset, value)
    t = geometry.order_table
    return Backend(device, "sim", f"Verilated pipeline: {geometry.symbols} books, {geometry.levels} levels, "
                                  f"{geometry.names} names, {rules} rules, order table "
                                  f"{t.bucket_bits}:{t.ways}:{t.stash}"
                                  + (f"; {'; '.join(notes)}" if notes else "") + f" ({library.parent.name})",
                   lines=config.line_window is not None)
