"""The `sim` backend: the pipeline RTL, Verilated and driven from C++ inside this process.

The library is built per geometry by `tickgate.sim.verilated.build` (minutes the first time, then cached).
Packets are batched into DMA frames like the software backend; a batch is simulated when it is full or
when events or counters are asked for, until the pipeline has been idle for `quiet` cycles.
"""

from __future__ import annotations

import numpy as np

from tickgate.host.backend import DmaBatches
from tickgate.protocol.config import BookGeometry, CardConfig, register_writes
from tickgate.protocol.registers import REGISTER_MAP, counter_names

__all__ = ["SimBackend", "sim_geometry"]


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


class SimBackend(DmaBatches):
    """The Verilated pipeline behind the Backend interface (`tickgate.host.backend.Backend`)."""

    name = "sim"

    def __init__(self, config: CardConfig | None = None, geometry: BookGeometry | None = None, *,
                 quiet: int | None = None) -> None:
        from tickgate.sim.verilated.build import library_for
        from tickgate.sim.verilated.model import DEFAULT_QUIET, VerilatedPipeline

        config = config or CardConfig()
        self.config = config
        self.geometry, notes = sim_geometry(config, geometry)
        self.library = library_for(self.geometry)
        self.pipeline = VerilatedPipeline(self.library, DEFAULT_QUIET if quiet is None else quiet)
        for name, value in register_writes(config):
            self.pipeline.write_reg(REGISTER_MAP[name].offset, value)
        g = self.geometry
        t = g.order_table
        self.description = (f"Verilated pipeline: {g.symbols} books, {g.levels} levels, {g.names} names, "
                            f"order table {t.bucket_bits}:{t.ways}:{t.stash}"
                            + (f"; {'; '.join(notes)}" if notes else "") + f" ({self.library.parent.name})")
        self._batch: list[tuple[bytes, int]] = []
        self.busy_cycles = 0  # cycles spent simulating batches (the rest: register writes, reset)

    def _submit(self, batch: bytes, packets: int) -> None:
        self.busy_cycles += self.pipeline.feed(batch)

    def take_events(self) -> np.ndarray:
        self._flush()
        return self.pipeline.take_events()

    def pending_events(self) -> int:
        self._flush()
        return self.pipeline.pending()

    def counters(self) -> dict[str, int]:
        """Every counter of the register map; those this pipeline does not keep read 0 (as on the card)."""
        self._flush()
        return {**dict.fromkeys(counter_names(), 0), **self.pipeline.counters()}

    @property
    def cycles(self) -> int:
        """Clock cycles simulated so far."""
        return self.pipeline.cycles

    def close(self) -> None:
        """Free the model."""
        self.pipeline.close()

