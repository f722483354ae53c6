"""The f1 device: the card in an AWS F1 slot (`tickgate._driver.F1Device`) opened as a `Backend`, and image
manifests.

An image manifest is a JSON file the bitstream build writes beside each image (bitstreams/manifest.py writes
it), saying what a slot must show for the host to use it. The fields read here:

    {
      "ids": {"vendor": 7439, "device": 61440,                       # the application function's PCI IDs,
              "subsystem_vendor": 7439, "subsystem_device": 29799},  # as its sysfs files name them
      "map_version": 3,            # protocol.registers.MAP_VERSION the image was built with
      "config": {...},             # the image's build configuration (capacities, clock), as the build records it
      "git_commit": "0123abcd...", # the tickgate commit the image was built from
      "afi_id": "afi-...",         # from `aws ec2 create-fpga-image` (null before registration)
      "agfi_id": "agfi-..."        # what `fpga-load-local-image -I` loads
    }

IDs are numbers (or hex strings, "0x1d0f"); other fields (format, created, files, ...) are for people.
`ImageManifest.default()` is the manifest named by $TICKGATE_F1_MANIFEST, else `ImageManifest.expected()`: the
image this version of the host speaks to (protocol.f1_map's IDs, protocol.registers.MAP_VERSION). It is used
when no manifest is given, so `tickgate replay --backend auto` can be pointed at an image's manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tickgate.host.backend import Backend
from tickgate.protocol import f1_map
from tickgate.protocol.config import CardConfig, register_writes
from tickgate.protocol.registers import MAP_VERSION, REGISTER_MAP

__all__ = ["DEFAULT_DEV_DIR", "DEFAULT_SYSFS_ROOT", "F1Options", "ImageManifest", "configure_card", "find_cards",
           "layout", "open_f1"]

DEFAULT_SYSFS_ROOT = "/sys/bus/pci/devices"
DEFAULT_DEV_DIR = "/dev"
MANIFEST_ENV = "TICKGATE_F1_MANIFEST"  # the manifest to check cards against when none is passed
SLOT_ENV = "TICKGATE_F1_SLOT"  # the slot to use when none is passed (default 0)
_ID_FIELDS = ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_id")
_ID_KEYS = dict(zip(_ID_FIELDS, ("vendor", "device", "subsystem_vendor", "subsystem_device"), strict=True))



def _id(value: Any, what: str) -> int:
    try:
        v = int(value, 16) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"manifest: {what} must be a number or a hex string, not {value!r}") from None
    if not 0 <= v <= 0xFFFF:
        raise ValueError(f"manifest: {what} {v:#x} is not a 16-bit PCI ID")
    return v


@dataclass(frozen=True)
class ImageManifest:
    """What a slot must show to be used: the application function's IDs and the register map version."""

    vendor_id: int
    device_id: int
    subsystem_vendor_id: int
    subsystem_id: int
    map_version: int
    config: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    afi_id: str | None = None
    agfi_id: str | None = None

    @classmethod
    def expected(cls) -> ImageManifest:
        """The image this host speaks to: protocol.f1_map's IDs and this MAP_VERSION."""
        return cls(f1_map.APP_VENDOR_ID, f1_map.APP_DEVICE_ID, f1_map.APP_SUBSYSTEM_VENDOR_ID,
                   f1_map.APP_SUBSYSTEM_ID, MAP_VERSION)

    @classmethod
    def default(cls) -> ImageManifest:
        """The manifest at $TICKGATE_F1_MANIFEST if set, else `expected()`."""
        path = os.environ.get(MANIFEST_ENV)
        return cls.load(path) if path else cls.expected()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageManifest:
        """A manifest from its JSON object; ValueError naming what is missing or wrong."""
        if not isinstance(d, dict) or not isinstance(d.get("ids"), dict):
            raise ValueError('manifest: needs an "ids" object with ' + ", ".join(_ID_KEYS.values()))
        missing = [f"ids.{k}" for k in _ID_KEYS.values() if d["ids"].get(k) is None]
        missing += ["map_version"] if d.get("map_version") is None else []
        if missing:
            raise ValueError(f"manifest: missing {', '.join(missing)}")
        ids = {f: _id(d["ids"][k], f"ids.{k}") for f, k in _ID_KEYS.items()}
        if not isinstance(d["map_version"], int) or d["map_version"] < 1:
            raise ValueError(f"manifest: map_version must be a positive integer, not {d['map_version']!r}")
        config = d.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError("manifest: config must be an object")
        return cls(**ids, map_version=d["map_version"], config=config, git_commit=d.get("git_commit"),
                   afi_id=d.get("afi_id"), agfi_id=d.get("agfi_id"))

    @classmethod
    def load(cls, path: str | Path) -> ImageManifest:
        """Read a manifest file; ValueError (with the path) if it is not valid JSON or misses a field."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @property
    def name(self) -> str:
        """The agfi id, else a description of the IDs."""
        return self.agfi_id or f"tickgate image (map v{self.map_version})"

    def image(self) -> Any:
        """This manifest as the driver's F1Image."""
        from tickgate._driver import F1Image

        img = F1Image()
        for f in _ID_FIELDS:
            setattr(img, f, getattr(self, f))
        img.map_version = self.map_version
        img.name = self.agfi_id or ""
        return img


def layout() -> Any:
    """protocol.f1_map as the driver's F1Layout."""
    from tickgate._driver import F1Layout

    lay = F1Layout()
    lay.mgmt_vendor_id = f1_map.MGMT_VENDOR_ID
    lay.mgmt_device_id = f1_map.MGMT_DEVICE_ID
    lay.cleared_device_id = f1_map.CLEARED_DEVICE_ID
    lay.app_device_delta = f1_map.APP_DEVICE_DELTA
    lay.ingress_base = f1_map.INGRESS_BASE
    lay.ingress_size = f1_map.INGRESS_SIZE
    lay.egress_base = f1_map.EGRESS_BASE
    lay.egress_size = f1_map.EGRESS_SIZE
    return lay


def find_cards(sysfs_root: str | Path = DEFAULT_SYSFS_ROOT,
               manifest: ImageManifest | None = None) -> list[dict[str, Any]]:
    """The F1 slots under `sysfs_root`, each with `mismatch`: why it does not hold `manifest`'s image ('' if
    it does)."""
    from tickgate._driver import f1_image_mismatch, f1_scan

    manifest = manifest or ImageManifest.default()
    slots = f1_scan(str(sysfs_root), layout())
    for s in slots:
        s["mismatch"] = f1_image_mismatch(str(sysfs_root), layout(), s["index"], manifest.image())
    return slots


@dataclass(frozen=True)
class F1Options:
    """Which card `open_f1` opens: slot `slot` (None: $TICKGATE_F1_SLOT, else 0) under `sysfs_root` and
    `dev_dir`, checked against `manifest` (None: `ImageManifest.default()`); `timeout_s` for a card that
    makes no progress; `io` the system calls (the tests' fake card)."""

    manifest: ImageManifest | None = None
    sysfs_root: str | Path = DEFAULT_SYSFS_ROOT
    dev_dir: str | Path = DEFAULT_DEV_DIR
    slot: int | None = None
    timeout_s: float = 10.0
    io: Any = None


def configure_card(device: Any, config: CardConfig) -> None:
    """Check `config`'s capacities against the image's (`cap_*` registers) and write its registers, clearing
    the counters (the f1 and f2 cards alike)."""
    def reg(name: str) -> int:
        return device.read_register(REGISTER_MAP[name].offset)

    table = config.order_table
    wanted = {"max_levels": ("cap_levels", config.max_levels), "max_symbols": ("cap_symbols", config.max_symbols),
              "order_table": ("cap_orders", table.capacity if table is not None else None)}
    for option, (name, want) in wanted.items():
        have = reg(name)
        if want is not None and want != have:
            raise ValueError(f"{option} asks for {want}; the image in the slot has {name}={have}: capacities "
                             "are fixed by the image (omit the option, or load an image built with it)")
    cap = reg("cap_symbols")
    if config.symbols is not None and cap and len(config.symbols) > cap:
        raise ValueError(f"{len(config.symbols)} symbols to track; the image holds {cap}")
    for name, value in register_writes(config, clear_counters=True):  # this run's counters start at 0
        device.write_register(REGISTER_MAP[name].offset, value)


def open_f1(config: CardConfig | None = None, options: F1Options | None = None) -> Backend:
    """The card in an F1 slot (`tickgate._driver.F1Device`): DMA batches in through XDMA, events out.

    Opening checks the slot against the manifest: its IDs, then the `id` and `map_version` registers; then
    it writes the configuration registers from `config` (symbols, session, first sequence, level events) and
    clears the counters. The capacities are the image's (`cap_*` registers): a config asking for others is
    refused; one asking for the same (an order table of cap_orders entries, say) is accepted. Collecting
    waits until the card has processed every packet submitted (`F1Device.settle`).
    """
    from tickgate._driver import F1Device

    o = options or F1Options()
    manifest = o.manifest or ImageManifest.default()
    slot = int(os.environ.get(SLOT_ENV, "0")) if o.slot is None else o.slot
    device = F1Device(layout(), manifest.image(), sysfs_root=str(o.sysfs_root), dev_dir=str(o.dev_dir), slot=slot,
                      timeout_s=o.timeout_s, io=o.io)
    try:
        configure_card(device, config or CardConfig())
    except BaseException:
        device.close()
        raise
    where = device.slot
    return Backend(device, "f1", f"f1: slot {where['index']} ({where['app_address']}), {manifest.name}, "
                                 f"map v{manifest.map_version}, {device.h2c_path}")
