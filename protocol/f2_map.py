"""How the host reaches the pipeline on an AWS F2 card: PCI IDs, the ingress window and the host event ring.

F2's small shell has no XDMA. Registers are `protocol.registers.REGISTER_MAP` on the OCL AXI-Lite interface
(BAR0 of the application function, mapped by the host). Packets and events move without a system call:

- **Ingress (host to card).** The host stores DMA-framed packets (`protocol.moldudp64.pack_dma`) into the
  ingress window of BAR4 (PCIS), mapped write-combining (`resource4_wc`): whole 64-byte lines where it can,
  8-byte stores for a batch's last partial line, then a store fence. The shell turns these into PCIS write
  bursts of 64-byte beats (AxSIZE 6 only, the F2 errata); lanes the host did not store carry no strobes
  and are skipped. The window is a FIFO port as on F1 (`f1_map.INGRESS_BASE`, `INGRESS_SIZE`): order counts,
  addresses inside it do not. Before storing, the host reads `ingress_free` and stores at most that many
  bytes. Host reads of BAR4 are slow on F2; the host never reads it.
- **Egress (card to host).** The card writes 64-byte events over PCIM into a ring in host memory that the
  host allocates and pins (`RING_*`), one event per beat, and after its writes have been answered it writes
  the ring's head line (`HEAD_*`) at `ring_head` in host memory: the producer index, free-running modulo
  2**32. The host polls the head line in its own memory, reads records `consumer .. producer - 1` (record
  `i` at byte `64 * (i % records)` of the ring), then stores its consumer index to the `ring_consumer`
  register. The card never writes a record the host has not consumed: with `records` unread it holds the
  next event (the pipeline back-pressures) and counts it once under `ring_full`.
- **Ring setup.** With `ring_control` bit 0 clear the card writes nothing to host memory. The host writes
  `ring_base_*` (aligned to `RING_ALIGN`), `ring_size_log2` (`RING_MIN_LOG2` .. `RING_MAX_LOG2`),
  `ring_head_*` (aligned to 64) and then `ring_control` = ENABLE | RESET: the reset zeroes both indices
  and the card writes a head line of producer 0 before any record. A PCIM write answered with an error is
  counted under `pcim_errors`; the card keeps going (the record is lost to the host, which sees the count).

Slots: the management function (MGMT_VENDOR_ID:MGMT_DEVICE_ID) is function MGMT_FUNCTION of a device; the
application function is function APP_FUNCTION of the same domain, bus and device (aws-fpga's F2 `fpga_pci`).
"""

from __future__ import annotations

from enum import IntFlag

from .f1_map import INGRESS_BASE, INGRESS_SIZE

__all__ = [
    "APP_DEVICE_ID", "APP_FUNCTION", "APP_SUBSYSTEM_ID", "APP_SUBSYSTEM_VENDOR_ID", "APP_VENDOR_ID",
    "CLEARED_DEVICE_ID", "CL_DEVICE_IDS", "HEAD_LINE_BYTES", "HEAD_PRODUCER_OFFSET", "INGRESS_BASE",
    "INGRESS_SIZE", "MGMT_DEVICE_ID", "MGMT_FUNCTION", "MGMT_VENDOR_ID", "OCL_BAR", "PCIS_BAR",
    "PCIS_BAR_WC_RESOURCE", "RECORD_BYTES", "RING_ALIGN", "RING_MAX_LOG2", "RING_MIN_LOG2", "RingControl",
    "cl_sh_id0", "cl_sh_id1", "ring_bytes",
]

MGMT_VENDOR_ID = 0x1D0F  # Amazon
MGMT_DEVICE_ID = 0x9248  # the F2 management function: a sysfs scan for it finds the slots
MGMT_FUNCTION = 1
APP_FUNCTION = 0
CLEARED_DEVICE_ID = 0x9048  # a cleared slot's application function

APP_VENDOR_ID = 0x1D0F
CL_DEVICE_IDS = range(0xF000, 0xF100)  # device IDs a custom logic may take under vendor 0x1D0F
APP_DEVICE_ID = 0xF074  # tickgate ("t")
APP_SUBSYSTEM_VENDOR_ID = 0x1D0F
APP_SUBSYSTEM_ID = 0x7467  # "tg"

OCL_BAR = 0  # resource0: the register map (64 MiB BAR, the map at its start)
PCIS_BAR = 4  # resource4: the PCIS address space (128 GiB, prefetchable)
PCIS_BAR_WC_RESOURCE = "resource4_wc"  # the write-combining mapping the host stores packets through

RECORD_BYTES = 64  # one event record, one PCIM beat
RING_ALIGN = 4096  # ring base alignment: no PCIM burst crosses a 4 KiB boundary
RING_MIN_LOG2 = 6  # 64 records: one 4 KiB page
RING_MAX_LOG2 = 24  # 16 Mi records: 1 GiB
HEAD_LINE_BYTES = 64  # the head line the card writes: one beat, its own cache line
HEAD_PRODUCER_OFFSET = 0  # u32 little-endian producer index (records written, modulo 2**32); the rest zero


class RingControl(IntFlag):
    """Bits of the `ring_control` register."""

    ENABLE = 1 << 0  # the card writes events into the host ring (F2); clear: nothing reaches host memory
    RESET = 1 << 1  # a command: both indices to 0, then a head line of producer 0; reads 0


if APP_DEVICE_ID not in CL_DEVICE_IDS:
    raise AssertionError("the CL device ID must be in the range the F2 shell allows")


def ring_bytes(size_log2: int) -> int:
    """Bytes of a ring of 2**size_log2 records; ValueError outside RING_MIN_LOG2..RING_MAX_LOG2."""
    if not RING_MIN_LOG2 <= size_log2 <= RING_MAX_LOG2:
        raise ValueError(f"ring size 2**{size_log2} records is outside 2**{RING_MIN_LOG2}..2**{RING_MAX_LOG2}")
    return RECORD_BYTES << size_log2


def cl_sh_id0() -> int:
    """`CL_SH_ID0` of `cl_id_defines.vh`: device ID in the high half, vendor ID in the low half."""
    return APP_DEVICE_ID << 16 | APP_VENDOR_ID


def cl_sh_id1() -> int:
    """`CL_SH_ID1` of `cl_id_defines.vh`: subsystem ID in the high half, subsystem vendor ID in the low half."""
    return APP_SUBSYSTEM_ID << 16 | APP_SUBSYSTEM_VENDOR_ID
