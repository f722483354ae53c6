"""The pipeline RTL Verilated into a shared library and driven from C++ in-process (the `sim` backend).

`build.library_for(geometry)` builds (once, cached) the library; `tickgate._driver.SimDevice` (driver/sim_device.hpp)
loads and drives it as a `Device`.
"""
