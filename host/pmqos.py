"""Hold a CPU wake-up latency limit (PM QoS, `/dev/cpu_dma_latency`) for a run's life: `tickgate run
--cpu-dma-latency US`.

The kernel keeps an idle CPU out of every idle state whose exit latency is past the lowest limit any process
holds open on `/dev/cpu_dma_latency` (the value is written as a 32-bit integer, in microseconds); the limit is
dropped when that file is closed, whoever closes it and however the process ends. 0 keeps idle CPUs in the
`poll` state: a wake-up (a packet for the simulator, an answer for the run loop) then needs no inter-processor
interrupt and, in a VM, no exit to the hypervisor to halt and resume the vCPU. This is what tuned's
`latency-performance` profile does. Its cost: every idle core spins instead of halting (a full core of power and,
in a VM, of the host's CPU time per idle vCPU), for as long as the limit is held; it takes no CPU time from tasks
that have work, and needs root (the file is 0600).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType

__all__ = ["CPU_DMA_LATENCY", "CpuDmaLatency", "cpuidle_states"]

CPU_DMA_LATENCY = Path("/dev/cpu_dma_latency")


class CpuDmaLatency:
    """The limit `us` held while this object is open (a context manager); `close()` releases it. `path` is
    `/dev/cpu_dma_latency` unless given (tests point it at a file of their own)."""

    def __init__(self, us: int, path: Path | str | None = None) -> None:
        if not 0 <= us <= 2_000_000_000:
            raise ValueError(f"CPU wake-up latency {us} us: 0 to 2000000000")
        self.us, self.path = us, Path(path) if path is not None else CPU_DMA_LATENCY
        self._fd: int | None = None

    def open(self) -> CpuDmaLatency:
        """Write the limit and keep the file open; OSError (no such file, not root) says why it cannot."""
        if self._fd is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                if os.write(fd, struct.pack("=i", self.us)) != 4:
                    raise OSError(f"{self.path}: short write of the latency limit")
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        """Release the limit (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> CpuDmaLatency:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def cpuidle_states(cpu: int = 0, root: Path | str = "/sys/devices/system/cpu") -> dict[str, object]:
    """The cpuidle driver and CPU `cpu`'s idle states (name, exit latency in us, entries), for reports."""
    base = Path(root)

    def read(p: Path) -> str:
        try:
            return p.read_text().strip()
        except OSError:
            return ""

    states = []
    for d in sorted((base / f"cpu{cpu}" / "cpuidle").glob("state*"), key=lambda p: int(p.name[5:])):
        states.append({"name": read(d / "name"), "latency_us": int(read(d / "latency") or -1),
                       "usage": int(read(d / "usage") or 0)})
    return {"driver": read(base / "cpuidle" / "current_driver"), "states": states}
