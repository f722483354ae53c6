"""How the host reaches the pipeline on an AWS F1 card: PCI IDs and the DMA windows of the PCIS bus.

Registers are `protocol.registers.REGISTER_MAP`, on the OCL AXI-Lite interface (BAR0 of the application
function). Packets and events move by XDMA over the 512-bit PCIS AXI-4 bus (BAR4 address space):

- H2C: the host `pwrite`s DMA-framed packets (`protocol.moldudp64.pack_dma`: a 16-byte header per packet,
  payload padded to 8 bytes) anywhere into the ingress window. The window is a FIFO port: bytes are taken
  in the order they are written, whatever their address inside the window. Before writing, the host reads
  the `ingress_free` register and writes at most that many bytes.
- C2H: the host reads `events_ready`, then `pread`s that many 64-byte events from the egress window; reads
  pop the egress FIFO in order, whatever their address inside the window. Reading more than is ready
  returns zero records for the excess (kind 0), which the host must not do.

Slots: every PCI function with the management IDs (MGMT_VENDOR_ID:MGMT_DEVICE_ID) is one slot; its application
function has the same domain, bus and function number, and the device number plus APP_DEVICE_DELTA (aws-fpga's
`fpga_pci` maps them so: F1_MBOX_DEV2APP_DEV(dev) = dev - 1).

The image manifest (bitstreams/) records these IDs; the f1 backend checks the application function's IDs
against the manifest of the image it expects.
"""

from __future__ import annotations

__all__ = [
    "APP_DEVICE_DELTA", "APP_DEVICE_ID", "APP_SUBSYSTEM_ID", "APP_SUBSYSTEM_VENDOR_ID", "APP_VENDOR_ID",
    "CLEARED_DEVICE_ID",
    "EGRESS_BASE", "EGRESS_SIZE", "INGRESS_BASE", "INGRESS_SIZE", "MGMT_DEVICE_ID", "MGMT_VENDOR_ID",
    "OCL_BAR", "PCIS_BAR", "cl_sh_id0", "cl_sh_id1",
]

MGMT_VENDOR_ID = 0x1D0F  # Amazon
MGMT_DEVICE_ID = 0x1041  # the management function, one per slot: a sysfs scan for it finds the slots
CLEARED_DEVICE_ID = 0x1042  # a cleared slot's application function
APP_DEVICE_DELTA = -1  # application function's PCI device number minus the management function's

APP_VENDOR_ID = 0x1D0F
APP_DEVICE_ID = 0xF000  # the stock XDMA driver binds 0x1d0f:0xf000
APP_SUBSYSTEM_VENDOR_ID = 0x1D0F
APP_SUBSYSTEM_ID = 0x7467  # "tg"

OCL_BAR = 0  # resource0: the register map
PCIS_BAR = 4  # the XDMA address space

INGRESS_BASE = 0x0000_0000
INGRESS_SIZE = 0x0010_0000  # 1 MiB window; the FIFO behind it is smaller (see `ingress_free`)
EGRESS_BASE = 0x0010_0000
EGRESS_SIZE = 0x0010_0000


def cl_sh_id0() -> int:
    """The custom logic's `cl_sh_id0`: device ID in the high half, vendor ID in the low half."""
    return APP_DEVICE_ID << 16 | APP_VENDOR_ID


def cl_sh_id1() -> int:
    """The custom logic's `cl_sh_id1`: subsystem ID in the high half, subsystem vendor ID in the low half."""
    return APP_SUBSYSTEM_ID << 16 | APP_SUBSYSTEM_VENDOR_ID
