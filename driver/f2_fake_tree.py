"""A fake AWS F2 instance for tests: a sysfs PCI devices folder in a temporary directory and `FakeF2Card`, the
test double that serves the slot's BAR0 and BAR4 and plays the card into the host event ring from the
software model (driver/f2_fake.hpp says how and why). Used by driver/test_f2.py and tests/bench_f2.py:

    tree = make_tree(Path(tmp))
    backend = tree.backend(tree.fake())      # the f2 backend on the fake card
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickgate import _driver
from tickgate.host.backend import Backend
from tickgate.host.backend_f2 import F2Options, open_f2
from tickgate.protocol import f2_map
from tickgate.protocol.config import CardConfig

__all__ = ["APP_IDS", "Tree", "make_tree"]

APP_IDS = (f2_map.APP_VENDOR_ID, f2_map.APP_DEVICE_ID, f2_map.APP_SUBSYSTEM_VENDOR_ID, f2_map.APP_SUBSYSTEM_ID)
CONFIG_BYTES = 256  # a PCI function's conventional config space, as sysfs shows it


@dataclass
class Tree:
    """A fake F2 instance: sysfs PCI devices folder and slot 0's application function files."""

    sysfs: Path
    app: Path
    resource0: Path
    window: Path
    config: Path

    def fake(self, **options: Any) -> _driver.FakeF2Card:
        """A FakeF2Card serving this tree's slot 0 (options: FakeF2Card's keyword arguments)."""
        return _driver.FakeF2Card(str(self.resource0), str(self.window), **options)

    def options(self, fake: _driver.FakeF2Card | None, **options: Any) -> F2Options:
        """F2Options of this tree through `fake` (None: the real system), 0.3 s timeout and a ring of 2**8 records
        by default."""
        return F2Options(sysfs_root=self.sysfs, io=fake, **{"timeout_s": 0.3, "ring_log2": 8, **options})

    def backend(self, fake: _driver.FakeF2Card | None, config: CardConfig | None = None, **options: Any) -> Backend:
        """The f2 backend on this tree through `fake`, 0.3 s timeout and a ring of 2**8 records by default."""
        return open_f2(config, self.options(fake, **options))

    def command(self) -> int:
        """The application function's PCI command register as the backend left it in the config file."""
        return int.from_bytes(self.config.read_bytes()[4:6], "little")


def _ids(folder: Path, vendor: int, device: int, sub_vendor: int, sub: int) -> None:
    folder.mkdir(parents=True)
    for name, v in (("vendor", vendor), ("device", device), ("subsystem_vendor", sub_vendor),
                    ("subsystem_device", sub)):
        (folder / name).write_text(f"{v:#06x}\n")
    (folder / "config").write_bytes(b"\0" * CONFIG_BYTES)


def make_tree(root: Path, app_ids: tuple[int, ...] | None = APP_IDS, *, slots: int = 1) -> Tree:
    """sysfs with unrelated devices and `slots` F2 slots (device 1f, 1e, ...: management function at function
    1, application function at function 0 with `app_ids` and its BAR files, or none)."""
    sysfs = root / "sys"
    _ids(sysfs / "0000:00:00.0", 0x8086, 0x1237, 0x1AF4, 0x1100)  # a host bridge
    _ids(sysfs / "0000:00:05.0", 0x1D0F, 0xEC20, 0x1D0F, 0xEC20)  # an ENA network card, same vendor
    (sysfs / "0000:00:06.0").mkdir()  # a folder without ID files
    for i in range(slots):
        device = f"0000:00:{0x1F - i:02x}"
        _ids(sysfs / f"{device}.{f2_map.MGMT_FUNCTION}", f2_map.MGMT_VENDOR_ID, f2_map.MGMT_DEVICE_ID, 0x1D0F, 0x9248)
        if app_ids is not None:
            app = sysfs / f"{device}.{f2_map.APP_FUNCTION}"
            _ids(app, *app_ids)
            for name in ("resource0", f2_map.PCIS_BAR_WC_RESOURCE):
                (app / name).write_bytes(b"")
    app = sysfs / f"0000:00:1f.{f2_map.APP_FUNCTION}"
    return Tree(sysfs, app, app / "resource0", app / f2_map.PCIS_BAR_WC_RESOURCE, app / "config")
