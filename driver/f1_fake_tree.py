"""A fake AWS F1 instance for tests: a sysfs PCI devices folder and a device folder in a temporary directory,
and `FakeF1Card`, the test double that serves the slot's resource0 and XDMA devices from the software model
(driver/f1_fake.hpp says how and why). Used by driver/test_f1.py; handy to try the f1 backend anywhere:

    tree = make_tree(Path(tmp))
    backend = tree.backend(tree.fake())      # an F1Backend on the fake card
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickgate import _driver
from tickgate.host.backend_f1 import F1Backend, layout
from tickgate.protocol import f1_map
from tickgate.protocol.config import CardConfig

__all__ = ["APP_IDS", "Tree", "make_tree"]

APP_IDS = (f1_map.APP_VENDOR_ID, f1_map.APP_DEVICE_ID, f1_map.APP_SUBSYSTEM_VENDOR_ID, f1_map.APP_SUBSYSTEM_ID)


@dataclass
class Tree:
    """A fake F1 instance: sysfs PCI devices folder, device folder, and the slot's paths."""

    sysfs: Path
    dev: Path
    app: Path
    resource0: Path
    h2c: Path
    c2h: Path

    def fake(self, **options: Any) -> _driver.FakeF1Card:
        """A FakeF1Card serving this tree's slot 0 (options: FakeF1Card's keyword arguments)."""
        return _driver.FakeF1Card(str(self.resource0), str(self.h2c), str(self.c2h), layout(), **options)

    def backend(self, fake: _driver.FakeF1Card | None, config: CardConfig | None = None, **options: Any) -> F1Backend:
        """An F1Backend on this tree through `fake` (None: the real system calls), 0.3 s timeout by default."""
        return F1Backend(config, sysfs_root=self.sysfs, dev_dir=self.dev, io=fake, **{"timeout_s": 0.3, **options})


def _ids(folder: Path, vendor: int, device: int, sub_vendor: int | None = None, sub: int | None = None) -> None:
    folder.mkdir(parents=True)
    (folder / "vendor").write_text(f"{vendor:#06x}\n")
    (folder / "device").write_text(f"{device:#06x}\n")
    if sub_vendor is not None:
        (folder / "subsystem_vendor").write_text(f"{sub_vendor:#06x}\n")
        (folder / "subsystem_device").write_text(f"{sub:#06x}\n")


def make_tree(root: Path, app_ids: tuple[int, ...] | None = APP_IDS, *, slots: int = 1, xdma: bool = True) -> Tree:
    """sysfs with unrelated devices and `slots` F1 slots (management function at device 1e, 1c, ...;
    application function one device below, with `app_ids`, or none), XDMA devices for slot 0."""
    sysfs, dev = root / "sys", root / "dev"
    _ids(sysfs / "0000:00:00.0", 0x8086, 0x1237, 0x1AF4, 0x1100)  # a host bridge
    _ids(sysfs / "0000:00:03.0", 0x1D0F, 0xEC20, 0x1D0F, 0xEC20)  # an ENA network card, same vendor
    (sysfs / "0000:00:04.0").mkdir()  # a folder without ID files
    dev.mkdir()
    for i in range(slots):
        _ids(sysfs / f"0000:00:{0x1E - 2 * i:02x}.0", f1_map.MGMT_VENDOR_ID, f1_map.MGMT_DEVICE_ID, 0x1D0F, 0x1041)
        app = sysfs / f"0000:00:{0x1D - 2 * i:02x}.0"
        if app_ids is not None:
            _ids(app, *app_ids)
            (app / "resource0").write_bytes(b"")
            if xdma:
                (app / "xdma" / f"xdma{i}_h2c_0").mkdir(parents=True)
                (app / "xdma" / f"xdma{i}_c2h_0").mkdir(parents=True)
                (dev / f"xdma{i}_h2c_0").write_bytes(b"")
                (dev / f"xdma{i}_c2h_0").write_bytes(b"")
    app = sysfs / "0000:00:1d.0"
    return Tree(sysfs, dev, app, app / "resource0", dev / "xdma0_h2c_0", dev / "xdma0_c2h_0")
