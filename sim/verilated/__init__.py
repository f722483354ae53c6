"""The pipeline RTL Verilated into a shared library and driven from C++ in-process (the `sim` backend).

`build.library_for(geometry)` builds (once, cached) the library; `model.VerilatedPipeline` loads and drives it.
"""
