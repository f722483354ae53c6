"""ctypes over the C ABI of `harness.cpp`: the Verilated pipeline as a Python object."""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from tickgate.hdl.pipeline import pipeline_counters
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE

__all__ = ["ABI_VERSION", "DEFAULT_QUIET", "VerilatedPipeline"]

ABI_VERSION = 1
#: Cycles without an event or a counter change after which a feed counts the pipeline as idle.
DEFAULT_QUIET = 256
_WORD = 8
_P = ctypes.c_void_p


@functools.cache
def _load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    sigs = {
        "tg_abi_version": (ctypes.c_int, []),
        "tg_counter_count": (ctypes.c_size_t, []),
        "tg_create": (_P, [ctypes.c_uint32]),
        "tg_destroy": (None, [_P]),
        "tg_reset": (None, [_P]),
        "tg_set_quiet": (None, [_P, ctypes.c_uint32]),
        "tg_write_reg": (ctypes.c_int, [_P, ctypes.c_uint32, ctypes.c_uint32]),
        "tg_read_reg": (ctypes.c_int, [_P, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)]),
        "tg_feed": (ctypes.c_int64, [_P, ctypes.c_char_p, ctypes.c_size_t]),
        "tg_pending": (ctypes.c_size_t, [_P]),
        "tg_take_events": (ctypes.c_size_t, [_P, _P, ctypes.c_size_t]),
        "tg_counters": (None, [_P, _P]),
        "tg_cycles": (ctypes.c_uint64, [_P]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    if lib.tg_abi_version() != ABI_VERSION:
        raise RuntimeError(f"{path}: harness ABI {lib.tg_abi_version()}, expected {ABI_VERSION}; rebuild it")
    return lib


class VerilatedPipeline:
    """One Verilated pipeline (input "dma") from `library`: registers, DMA words in, events and counters out."""

    def __init__(self, library: Path | str, quiet: int = DEFAULT_QUIET) -> None:
        self._lib = _load(str(library))
        self.counter_names = pipeline_counters("dma")
        if self._lib.tg_counter_count() != len(self.counter_names):
            raise RuntimeError(f"{library}: {self._lib.tg_counter_count()} counters on the port, the pipeline has "
                               f"{len(self.counter_names)}: a stale build")
        self._h = self._lib.tg_create(quiet)
        if not self._h:
            raise MemoryError("could not create the Verilated pipeline")
        self._counters = np.zeros(len(self.counter_names), np.uint64)

    def close(self) -> None:
        """Free the model (also done when garbage-collected)."""
        if getattr(self, "_h", None):
            self._lib.tg_destroy(self._h)
            self._h = None

    def __del__(self) -> None:
        self.close()

    def reset(self) -> None:
        """Reset the pipeline (registers too); events not yet taken stay."""
        self._lib.tg_reset(self._h)

    def write_reg(self, offset: int, value: int) -> None:
        """AXI-Lite write; raises RuntimeError unless answered OKAY."""
        resp = self._lib.tg_write_reg(self._h, offset, value)
        if resp != 0:
            raise RuntimeError(f"register write {offset:#x} <- {value:#x} answered "
                               f"{'nothing (timeout)' if resp < 0 else resp}")

    def read_reg(self, offset: int) -> int:
        """AXI-Lite read; raises RuntimeError unless answered OKAY."""
        out = ctypes.c_uint32()
        resp = self._lib.tg_read_reg(self._h, offset, ctypes.byref(out))
        if resp != 0:
            raise RuntimeError(f"register read {offset:#x} answered {'nothing (timeout)' if resp < 0 else resp}")
        return out.value

    def feed(self, words: bytes) -> int:
        """Push DMA words (a `pack_dma` batch) and run until idle; the cycles it took."""
        if len(words) % _WORD:
            raise ValueError(f"DMA input is whole 64-bit words, not {len(words)} bytes")
        cycles = self._lib.tg_feed(self._h, words, len(words) // _WORD)
        if cycles < 0:
            raise RuntimeError("the pipeline stopped taking input (dma_in.ready low for 4M cycles)")
        return cycles

    def pending(self) -> int:
        """Events kept and not yet taken."""
        return self._lib.tg_pending(self._h)

    def take_events(self) -> np.ndarray:
        """Every event kept since the last call (one memcpy into a new array)."""
        out = np.empty(self.pending(), dtype=EVENT_DTYPE)
        if len(out):
            n = self._lib.tg_take_events(self._h, out.ctypes.data, len(out))
            assert n == len(out) and out.itemsize == EVENT_SIZE
        return out

    def counters(self) -> dict[str, int]:
        """Every counter of the `counters` port, by register-map name."""
        self._lib.tg_counters(self._h, self._counters.ctypes.data)
        return dict(zip(self.counter_names, map(int, self._counters), strict=True))

    @property
    def cycles(self) -> int:
        """Clock cycles simulated since creation."""
        return self._lib.tg_cycles(self._h)
