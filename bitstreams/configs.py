"""Named configurations of an image: capacities of the pipeline and of the DMA bridge's FIFOs.

`make bitstream CONFIG=<name>` builds one of `CONFIGS`. A configuration is recorded whole in the image's
manifest, so the host knows the capacities of the image it loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tickgate.protocol.moldudp64 import MAX_PACKET

__all__ = ["CLOCK_RECIPES", "CONFIGS", "BitstreamConfig", "PipelineMissing", "get"]

#: F1 clock recipes of clk_main_a0 (group A), MHz. tickgate builds with A1. (F2 fixes clk_main_a0 at 250 MHz.)
CLOCK_RECIPES: dict[str, float] = {"A0": 125.0, "A1": 250.0, "A2": 15.625}


class PipelineMissing(RuntimeError):
    """The pipeline top (`tickgate.hdl.pipeline.Pipeline`) is not there yet."""


@dataclass(frozen=True)
class BitstreamConfig:
    """One image: book capacities (symbols, levels per side, symbol names, order table), rule table entries
    (`cap_rules`), DMA FIFO depths."""

    name: str
    symbols: int = 256  # book slots
    levels: int = 16  # price levels kept per side (hdl.book.engine.BookGeometry's default)
    names: int = 64  # entries of the symbol-name table
    order_bucket_bits: int = 13  # order table: two banks of 2**bits buckets
    order_ways: int = 8  # ... of this many entries
    order_stash: int = 16  # ... and a stash
    rules: int = 64  # entries of the rule table (armed rules, hdl.rules; the model's default max_rules)
    ingress_depth: int = 512  # 64-byte beats of H2C data buffered (32 KiB)
    egress_depth: int = 512  # events buffered for C2H
    # longest MoldUDP64 packet the DMA unframer takes: every length the DMA header can say, as the model and the
    # C++ card take (one rule, issue 17); a smaller image skips longer packets, counted `packets_oversize`
    max_length: int = MAX_PACKET
    clock_recipe: str = "A1"

    def __post_init__(self) -> None:
        if self.clock_recipe not in CLOCK_RECIPES:
            raise ValueError(f"clock recipe {self.clock_recipe!r} is not one of {sorted(CLOCK_RECIPES)}")
        for name in ("symbols", "levels", "names", "order_bucket_bits", "order_ways", "rules", "ingress_depth",
                     "egress_depth", "max_length"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, not {getattr(self, name)!r}")

    @property
    def clock_mhz(self) -> float:
        return CLOCK_RECIPES[self.clock_recipe]

    @property
    def order_capacity(self) -> int:
        return 2 * (1 << self.order_bucket_bits) * self.order_ways + self.order_stash

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clock_mhz": self.clock_mhz, "order_capacity": self.order_capacity}

    def geometry(self) -> Any:
        """The book's `hdl.book.engine.BookGeometry` for this configuration."""
        from tickgate.protocol.config import BookGeometry, OrderTableConfig

        table = OrderTableConfig(bucket_bits=self.order_bucket_bits, ways=self.order_ways, stash=self.order_stash)
        return BookGeometry(symbols=self.symbols, levels=self.levels, names=self.names, order_table=table)

    def pipeline(self) -> Any:
        """The pipeline top of this configuration; PipelineMissing until `hdl/pipeline.py` exists."""
        try:
            from tickgate.hdl.pipeline import Pipeline
        except ImportError as e:
            raise PipelineMissing(f"tickgate.hdl.pipeline.Pipeline is not available ({e}); build with the "
                                  "stand-in (--standin) until it is") from None
        return Pipeline(self.geometry(), input="dma", max_packet=self.max_length, rules=self.rules)

    def standin(self) -> Any:
        """The stand-in pipeline (decoder only; `bitstreams.standin`) with this configuration's DMA limit."""
        from .standin import StandinPipeline

        return StandinPipeline(max_length=self.max_length)


CONFIGS: dict[str, BitstreamConfig] = {c.name: c for c in (
    BitstreamConfig("default"),
    # For simulation: small tables and FIFOs build and run quickly under Verilator.
    BitstreamConfig("small", symbols=16, levels=4, names=16, order_bucket_bits=6, order_ways=4, order_stash=4,
                    rules=8, ingress_depth=64, egress_depth=64),
    # A wider book for a full day's busiest symbols; the order table holds 1M orders.
    BitstreamConfig("large", symbols=1024, levels=16, names=1024, order_bucket_bits=16, order_ways=8,
                    order_stash=32),
)}


def get(name: str) -> BitstreamConfig:
    """The configuration called `name`; KeyError naming the known ones."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"no bitstream configuration {name!r}; known: {', '.join(CONFIGS)}") from None
