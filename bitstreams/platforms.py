"""The AWS FPGA platforms an image is built for: F2 (the default, the instance AWS rents) and F1 (legacy).

A platform names its shell, the aws-fpga branch whose HDK builds it, the PCI IDs the image's application
function shows (from `protocol.f2_map` / `protocol.f1_map`) and how the host moves events.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.protocol import f1_map, f2_map

__all__ = ["DEFAULT_PLATFORM", "PLATFORMS", "Platform", "get_platform"]


@dataclass(frozen=True)
class Platform:
    """One AWS FPGA platform: instance, FPGA, shell, HDK branch, application PCI IDs, the CL's clock."""

    name: str
    instance: str
    fpga: str
    shell: str
    hdk_branch: str
    vendor_id: int
    device_id: int
    subsystem_vendor_id: int
    subsystem_id: int
    clock_mhz: float | None  # fixed by the shell (F2), or None: chosen by the image's clock recipe (F1)
    events: str  # how events reach the host

    @property
    def ids(self) -> dict[str, int]:
        """The application function's PCI IDs, as the manifest records them."""
        return {"vendor": self.vendor_id, "device": self.device_id, "subsystem_vendor": self.subsystem_vendor_id,
                "subsystem_device": self.subsystem_id}

    def cl_sh_id0(self) -> int:
        return self.device_id << 16 | self.vendor_id

    def cl_sh_id1(self) -> int:
        return self.subsystem_id << 16 | self.subsystem_vendor_id


PLATFORMS: dict[str, Platform] = {
    "f2": Platform("f2", "f2.6xlarge and up", "VU47P (xcvu47p, -2)", "small_shell", "f2",
                   f2_map.APP_VENDOR_ID, f2_map.APP_DEVICE_ID, f2_map.APP_SUBSYSTEM_VENDOR_ID,
                   f2_map.APP_SUBSYSTEM_ID, 250.0, "PCIM writes into a host-memory ring (protocol.f2_map)"),
    "f1": Platform("f1", "f1.2xlarge and up (retired by AWS on 2025-12-20)", "VU9P (xcvu9p, -2)",
                   "F1 XDMA shell", "f1_xdma_shell",
                   f1_map.APP_VENDOR_ID, f1_map.APP_DEVICE_ID, f1_map.APP_SUBSYSTEM_VENDOR_ID,
                   f1_map.APP_SUBSYSTEM_ID, None, "XDMA C2H reads of the egress window (protocol.f1_map)"),
}
DEFAULT_PLATFORM = "f2"

if PLATFORMS["f2"].cl_sh_id0() != f2_map.cl_sh_id0() or PLATFORMS["f1"].cl_sh_id1() != f1_map.cl_sh_id1():
    raise AssertionError("platform IDs disagree with the protocol maps")


def get_platform(name: str) -> Platform:
    """The platform called `name`; KeyError naming the known ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}") from None
