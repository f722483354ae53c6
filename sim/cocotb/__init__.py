"""Testbench-side helpers (they run inside the simulator, under cocotb).

- `clocking`: clock, Amaranth's active-high reset, cycle numbers, a cycle-limit watchdog;
- `streams`: drivers and monitors for Amaranth stream ports, packets as PacketBeat dicts;
- `payload`: Amaranth layouts <-> the integer on a flattened Verilog port (pure Python).

This package imports nothing at import time, so `payload` also works in plain pytest.
"""

from __future__ import annotations

import os

__all__ = ["tb_option"]


def tb_option(name: str, default: str | None = None) -> str | None:
    """A testbench argument: plusarg `+name=value` if given, else environment variable `name`, else `default`."""
    import cocotb

    value = cocotb.plusargs.get(name)
    if isinstance(value, str):
        return value
    return os.environ.get(name, default)
