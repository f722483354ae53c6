"""The f2 device: the card in an AWS F2 slot (`tickgate._driver.F2Device`) opened as a `Backend`.

Packets go to the card as write-combined stores into BAR4 and events come back written by the card into a
ring in this process's memory (protocol/f2_map.py): no system call on the data path. The ring's memory is
pinned and its physical address given to the card, which needs root on the instance (CAP_SYS_ADMIN to read
physical addresses from /proc/self/pagemap, CAP_IPC_LOCK to lock the ring, write access to the function's
PCI config space for bus mastering) and, for rings above one page, reserved 2 MiB hugepages
(`echo 8 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages`); driver/f2_io.hpp says why.

Images are checked as on F1 (`backend_f1.ImageManifest`): the expected one is protocol.f2_map's IDs and this
MAP_VERSION, or the manifest named by $TICKGATE_F2_MANIFEST; $TICKGATE_F2_SLOT picks the slot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickgate.host.backend import Backend
from tickgate.host.backend_f1 import DEFAULT_SYSFS_ROOT, ImageManifest, configure_card
from tickgate.protocol import f2_map
from tickgate.protocol.config import CardConfig
from tickgate.protocol.registers import MAP_VERSION

__all__ = ["F2Options", "default_manifest", "expected_manifest", "find_cards", "open_f2"]

MANIFEST_ENV = "TICKGATE_F2_MANIFEST"  # the manifest to check cards against when none is passed
SLOT_ENV = "TICKGATE_F2_SLOT"  # the slot to use when none is passed (default 0)


def expected_manifest() -> ImageManifest:
    """The F2 image this host speaks to: protocol.f2_map's IDs and this MAP_VERSION."""
    return ImageManifest(f2_map.APP_VENDOR_ID, f2_map.APP_DEVICE_ID, f2_map.APP_SUBSYSTEM_VENDOR_ID,
                         f2_map.APP_SUBSYSTEM_ID, MAP_VERSION)


def default_manifest() -> ImageManifest:
    """The manifest at $TICKGATE_F2_MANIFEST if set, else `expected_manifest()`."""
    path = os.environ.get(MANIFEST_ENV)
    return ImageManifest.load(path) if path else expected_manifest()


def find_cards(sysfs_root: str | Path = DEFAULT_SYSFS_ROOT,
               manifest: ImageManifest | None = None) -> list[dict[str, Any]]:
    """The F2 slots under `sysfs_root`, each with `mismatch`: why it does not hold `manifest`'s image ('' if
    it does)."""
    from tickgate._driver import f2_image_mismatch, f2_scan

    image = (manifest or default_manifest()).image()
    slots = f2_scan(str(sysfs_root))
    for s in slots:
        s["mismatch"] = f2_image_mismatch(str(sysfs_root), s["index"], image)
    return slots


@dataclass(frozen=True)
class F2Options:
    """Which card `open_f2` opens: slot `slot` (None: $TICKGATE_F2_SLOT, else 0) under `sysfs_root`, checked
    against `manifest` (None: `default_manifest()`); `timeout_s` for a card that makes no progress; a ring of
    2**`ring_log2` records (None: `tickgate._driver.F2_AUTO_RING_LOG2`, 2 MiB, if a hugepage is reserved,
    else 2**6 records in one locked page); `io` the system as the driver sees it (the tests' fake card)."""

    manifest: ImageManifest | None = None
    sysfs_root: str | Path = DEFAULT_SYSFS_ROOT
    slot: int | None = None
    timeout_s: float = 10.0
    ring_log2: int | None = None
    io: Any = None


def open_f2(config: CardConfig | None = None, options: F2Options | None = None) -> Backend:
    """The card in an F2 slot (`tickgate._driver.F2Device`): DMA batches stored into BAR4, events polled from
    the host ring.

    Opening checks the slot against the manifest (its IDs, then the `id` and `map_version` registers), sets
    up the ring, then writes the configuration registers from `config` and clears the counters; capacities
    are the image's, as on F1 (`backend_f1.configure_card`).
    """
    from tickgate._driver import F2Device

    o = options or F2Options()
    manifest = o.manifest or default_manifest()
    slot = int(os.environ.get(SLOT_ENV, "0")) if o.slot is None else o.slot
    device = F2Device(manifest.image(), sysfs_root=str(o.sysfs_root), slot=slot, timeout_s=o.timeout_s,
                      ring_log2=o.ring_log2 or 0, io=o.io)
    try:
        configure_card(device, config or CardConfig())
    except BaseException:
        device.close()
        raise
    where, ring = device.slot, device.ring
    return Backend(device, "f2", f"f2: slot {where['index']} ({where['app_address']}), {manifest.name}, "
                                 f"map v{manifest.map_version}, ring of {ring['records']} records in {ring['how']}")
