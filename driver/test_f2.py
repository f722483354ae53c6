"""The f2 backend end to end against the fake card (`FakeF2Card`): a fake sysfs tree in a temporary folder, BAR0
and the ingress window served as memory, the card played by the software model into the host event ring.
Every stream must give the software backend's events and counters (ring_full aside: it counts the transport);
every way of not finding, not matching or losing the card, and of breaking the ring, must say so clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tickgate import _driver
from tickgate.driver import f1_fake_tree
from tickgate.driver.f2_fake_tree import APP_IDS, Tree, make_tree
from tickgate.host.backend import BACKENDS, open_backend
from tickgate.host.backend_f1 import F1Options, ImageManifest
from tickgate.host.backend_f2 import F2Options, expected_manifest, find_cards, open_f2
from tickgate.host.feeds import BinaryFileFeed, PcapFeed, adversarial, pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol import f2_map
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EVENT_DTYPE, EventKind
from tickgate.protocol.packet import Packet
from tickgate.protocol.registers import MAP_VERSION, REGISTER_MAP
from tickgate.tests.fuzz_diff import RandomDraw, case

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL = sorted(DATA.glob("pcap/*Itch*/*.pcap"))[:1] + sorted(DATA.glob("itch/*.itch50"))
TRANSPORT = ("ring_full",)  # counters of the host ring, which the software backend does not have


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


def timed(payloads, start: int = 1_000) -> list[Packet]:
    """Packets with distinct receive times, so ts_local is compared too."""
    return [Packet(p, start + 37 * i) for i, p in enumerate(payloads)]


def run(backend, packets: list[Packet]) -> tuple[np.ndarray, dict[str, int]]:
    """Feed every packet, taking events along the way as `tickgate replay` does; all events and counters."""
    parts = []
    for i, (payload, rx) in enumerate(packets):
        backend.feed(payload, rx)
        if i % 1000 == 999:
            parts.append(backend.take_events())
    parts.append(backend.take_events())
    return np.concatenate(parts), backend.counters()


def card_options(config: CardConfig | None) -> dict:
    """The fake card configured as `config` asks (the image's capacities)."""
    if config is None:
        return {}
    return {"symbols": sorted(config.symbols) if config.symbols is not None else None, "session": config.session,
            "first_sequence": config.first_sequence, "order_table": config.order_table,
            "max_levels": config.max_levels, "max_symbols": config.max_symbols, "level_events": config.level_events}


def assert_same_as_software(tree: Tree, packets: list[Packet], config: CardConfig | None = None, *,
                            ring_log2: int = 8, **fake_options) -> tuple[np.ndarray, dict[str, int], dict]:
    """The f2 backend on the fake gives the software backend's event bytes and counters; the fake's stats."""
    fake = tree.fake(**card_options(config), **fake_options)
    ours, our_counters = run(tree.backend(fake, config, ring_log2=ring_log2), packets)
    theirs, their_counters = run(open_backend("software", config), packets)
    assert len(ours) == len(theirs)
    assert ours.tobytes() == theirs.tobytes()
    assert {k: v for k, v in our_counters.items() if k not in TRANSPORT} == \
           {k: v for k, v in their_counters.items() if k not in TRANSPORT}
    stats = fake.stats()
    assert (stats["overruns"], stats["bad_addresses"], our_counters["pcim_errors"]) == (0, 0, 0)
    assert stats["records_written"] == len(ours)
    return ours, our_counters, stats


# -- equal events on every stream ----------------------------------------------------------------------------

def test_generated_stream_wraps_and_fills_the_ring(tree: Tree) -> None:
    """A 64-record ring and a 4 KiB ingress buffer: the ring wraps hundreds of times and fills (the card holds
    events, counted once each under ring_full) while the host stores batches a piece at a time."""
    packets = timed(pack_messages(generate(30_000, 100, 3), end_of_session=True))
    ev, counters, stats = assert_same_as_software(tree, packets, ring_log2=6, ingress_capacity=4096,
                                                  egress_capacity=16)
    assert (ev["kind"] == EventKind.BBO).sum() > 5_000 and (ev["kind"] == EventKind.TRADE).sum() > 50
    assert stats["wraps"] > 100 and 0 < counters["ring_full"] <= len(ev)
    assert stats["fences"] > 100  # batches stored in pieces of at most ingress_free


def test_a_tiny_ingress_buffer(tree: Tree) -> None:
    """8 entries of 64 bytes and small packets: batches go in pieces, a partial last line costs an entry per
    word, each piece starts on a new line of the window, and the host never stores more than the card has room
    for (the fake counts an overrun otherwise)."""
    packets = timed(pack_messages(generate(4_000, 20, 9), max_payload=72))
    _, _, stats = assert_same_as_software(tree, packets, ring_log2=6, ingress_capacity=512, egress_capacity=4)
    assert stats["fences"] > len(packets) // 8


@pytest.mark.parametrize("path", REAL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_captures(tree: Tree, path: Path) -> None:
    packets = list(PcapFeed(path) if path.suffix == ".pcap" else BinaryFileFeed(path))
    assert packets
    ev, _, _ = assert_same_as_software(tree, packets, ingress_capacity=2048)
    assert len(ev) > 0


@pytest.mark.parametrize("case_", adversarial.suite(), ids=lambda c: c[0])
def test_adversarial_streams_at_capacity(tree: Tree, case_) -> None:
    _name, payloads, options = case_
    config = CardConfig(**options)
    _, counters, _ = assert_same_as_software(tree, timed(payloads), config, ring_log2=6, ingress_capacity=4096,
                                             egress_capacity=64)
    overflows = ("order_table_full", "levels_full", "symbols_full", "degraded_symbols", "unknown_ref")
    assert sum(counters[k] for k in overflows) > 0


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_streams_and_configurations(tree: Tree, seed: int) -> None:
    """tests/fuzz_diff.py's hostile streams (every field from its edges) on tiny cards."""
    c = case(RandomDraw(0xF2 << 32 | seed), 40)
    assert_same_as_software(tree, timed(c.packets), c.config, ring_log2=6, ingress_capacity=2048)


def test_tracked_symbols_and_registers(tree: Tree) -> None:
    config = CardConfig(session=b"TICKGATE01", first_sequence=1, level_events=True, max_levels=8)
    fake = tree.fake(**card_options(config))
    backend = tree.backend(fake, config)
    read = backend.device.read_register
    assert read(REGISTER_MAP["session_0"].offset) == int.from_bytes(b"TICK", "little")
    ring = backend.device.ring
    assert ring["records"] == 256 and ring["bytes"] == 256 * f2_map.RECORD_BYTES
    assert read(REGISTER_MAP["ring_base_lo"].offset) | read(REGISTER_MAP["ring_base_hi"].offset) << 32 == \
        ring["ring_bus"]
    assert read(REGISTER_MAP["ring_head_lo"].offset) | read(REGISTER_MAP["ring_head_hi"].offset) << 32 == \
        ring["head_bus"]
    assert ring["ring_bus"] % f2_map.RING_ALIGN == 0 and ring["head_bus"] % f2_map.HEAD_LINE_BYTES == 0
    assert ring["ring_bus"] >> 32 and ring["head_bus"] >> 32  # the high words are written too
    assert read(REGISTER_MAP["ring_size_log2"].offset) == 8
    assert read(REGISTER_MAP["ring_control"].offset) == f2_map.RingControl.ENABLE  # RESET is a command: reads 0
    assert tree.command() & 0x6 == 0x6  # memory space and bus mastering enabled in the config file
    ident = backend.device.identify()
    assert (ident["backend"], ident["location"], ident["device_id"], ident["map_version"]) == (
        "f2", "0000:00:1f.0", f2_map.APP_DEVICE_ID, MAP_VERSION)
    packets = timed(pack_messages(generate(3_000, 10, 2)))
    half = len(packets) // 2
    ev, _ = run(backend, packets[:half])
    assert len(ev) > 100
    assert read(REGISTER_MAP["ring_consumer"].offset) == read(REGISTER_MAP["ring_producer"].offset) == len(ev)
    backend.reset()  # counters cleared, ring indices back to 0 (books and session stay: they live in the card)
    assert backend.device.pending() == 0 and backend.counters()["events"] == 0
    assert read(REGISTER_MAP["ring_producer"].offset) == 0 == fake.producer
    again, counters = run(backend, packets[half:])
    assert len(again) > 100 and counters["packets"] == len(packets) - half and counters["events"] == len(again)
    backend.close()
    with pytest.raises(_driver.CardGoneError, match="the f2 device of slot 0 is closed"):
        backend.device.read_register(0)
    backend.close()  # twice is fine
    assert fake.stats()["late_writes"] == 0


def test_a_full_ring_drains(tree: Tree) -> None:
    """Nobody collects: the card fills the 64-record ring, holds the next event (counted once), stops taking
    bytes once its own buffer is full; collecting frees the ring and every event arrives, in order."""
    fake = tree.fake(ingress_capacity=1 << 20, egress_capacity=8)
    backend = tree.backend(fake, ring_log2=6)
    packets = timed(pack_messages(generate(3_000, 10, 4)))
    dev = backend.device
    dev.submit(mold.pack_dma(packets))
    assert fake.producer == 64 and dev.read_register(REGISTER_MAP["ring_producer"].offset) == 64
    held = dev.counters()["ring_full"]
    assert held == 1  # one event waits for room, counted once however often the card looks
    dev.settle()  # drains the ring into the device while the card catches up
    out = np.empty(dev.pending(), dtype=EVENT_DTYPE)
    assert dev.collect(out) == len(out)
    theirs, _ = run(open_backend("software"), packets)
    assert out.tobytes() == theirs.tobytes()
    assert dev.counters()["ring_full"] > held


def test_unaligned_caller_arrays(tree: Tree) -> None:
    """Events land in any contiguous EVENT_DTYPE array, whatever its alignment, across the ring's wrap."""
    packets = timed(pack_messages(generate(3_000, 10, 2)))
    backend = tree.backend(tree.fake(), ring_log2=6)
    dev = backend.device
    parts = []
    for i in range(0, len(packets), 40):
        dev.submit(mold.pack_dma(packets[i:i + 40]))
        dev.settle()
        while dev.pending():
            raw = np.zeros(64 * 37 + 8, dtype=np.uint8)[8:]
            out = raw.view(EVENT_DTYPE)
            n = dev.collect(out)
            parts.append(out[:n].copy())
    theirs, _ = run(open_backend("software"), packets)
    assert np.concatenate(parts).tobytes() == theirs.tobytes()


# -- no card, wrong image ---------------------------------------------------------------------------------------

def test_no_card(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, slots=0)
    with pytest.raises(_driver.NoCardError, match=r"no F2 card: no management function 1d0f:9248 under .*sys"):
        tree.backend(None)
    assert find_cards(tree.sysfs) == []
    with pytest.raises(_driver.NoCardError, match="no F2 card"):
        open_f2(None, F2Options(sysfs_root=tmp_path / "absent"))


@pytest.mark.parametrize(("app_ids", "message"), [
    (None, r"slot 0 \(0000:00:1f.0\): no application function in sysfs .*: load the image "
           r"\(fpga-load-local-image -S 0 -I <agfi id>\)"),
    ((0x1D0F, f2_map.CLEARED_DEVICE_ID, 0x1D0F, 0x1D51),
     r"slot 0 \(0000:00:1f.0\) is cleared \(application function 1d0f:9048\)"),
    ((0x1D0F, 0xF001, 0x1D0F, 0x7467), r"holds another image: its application function is 1d0f:f001 \(subsystem "
                                       r"1d0f:7467\), the expected image is 1d0f:f074 \(subsystem 1d0f:7467\)"),
    (f1_fake_tree.APP_IDS, r"holds another image: its application function is 1d0f:f000"),  # the F1 image's IDs
])
def test_wrong_image(tmp_path: Path, app_ids, message: str) -> None:
    tree = make_tree(tmp_path, app_ids)
    error = _driver.NoCardError if app_ids is None else _driver.WrongImageError
    with pytest.raises(error, match=message):
        tree.backend(tree.fake())
    cards = find_cards(tree.sysfs)
    assert len(cards) == 1 and cards[0]["mismatch"]


@pytest.mark.parametrize(("fake_options", "error", "message"), [
    ({"id": 0x12345678}, _driver.WrongImageError, "register id reads 0x12345678, tickgate's image has 0x544b4754"),
    ({"map_version": 4}, _driver.WrongImageError, f"register map version 4, the manifest says {MAP_VERSION} "
                                                  f"and this build of tickgate speaks {MAP_VERSION}"),
    ({"id": 0xFFFFFFFF}, _driver.CardGoneError, "stopped answering: register id read 0xffffffff"),
    ({"fault": "mute"}, _driver.DeviceTimeoutError, r"the card in slot 0 \(0000:00:1f.0\) never announced its event "
                                                    r"ring \(no head line of producer 0 within 300 ms"),
])
def test_wrong_registers_and_a_silent_ring(tree: Tree, fake_options, error, message: str) -> None:
    with pytest.raises(error, match=message):
        tree.backend(tree.fake(**fake_options))


def test_missing_files(tree: Tree) -> None:
    tree.window.unlink()
    with pytest.raises(_driver.DeviceIOError, match=r"cannot open .*0000:00:1f.0/resource4_wc: No such file .*"
                                                    r"prefetchable BAR4"):
        tree.backend(tree.fake())
    tree.window.write_bytes(b"")
    tree.config.unlink()
    with pytest.raises(_driver.DeviceIOError, match=r"cannot open .*0000:00:1f.0/config: .*bus mastering"):
        tree.backend(tree.fake())


def test_second_slot_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path, slots=2)
    cards = find_cards(tree.sysfs)
    assert [(c["index"], c["mgmt_address"], c["app_address"], c["mismatch"]) for c in cards] == [
        (0, "0000:00:1e.1", "0000:00:1e.0", ""), (1, "0000:00:1f.1", "0000:00:1f.0", "")]
    with pytest.raises(_driver.NoCardError, match="no F2 slot 2: 2 slot"):
        tree.backend(tree.fake(), slot=2)
    monkeypatch.setenv("TICKGATE_F2_SLOT", "1")  # slot 1 is 0000:00:1f.0, the one tree.fake() serves
    assert tree.backend(tree.fake(), slot=None).device.slot["app_address"] == "0000:00:1f.0"
    other = {"ids": {"vendor": 0x1D0F, "device": 0xF074, "subsystem_vendor": 0x1D0F, "subsystem_device": 1},
             "map_version": MAP_VERSION, "agfi_id": "agfi-other"}
    (tmp_path / "other.json").write_text(json.dumps(other))
    monkeypatch.setenv("TICKGATE_F2_MANIFEST", str(tmp_path / "other.json"))
    with pytest.raises(_driver.WrongImageError, match="the expected image agfi-other is"):
        tree.backend(tree.fake(), slot=None)


# -- the card stops answering, or breaks the ring ------------------------------------------------------------------

@pytest.mark.parametrize(("fault", "error", "message"), [
    ("gone", _driver.CardGoneError, r"the card in slot 0 \(0000:00:1f.0\) stopped answering: register "
                                    r"\S+ .*read 0xffffffff"),
    ("stall", _driver.DeviceTimeoutError, r"the card in slot 0 \(0000:00:1f.0\) (took no bytes|made no progress) "
                                          r"for 300 ms"),
    ("backwards", _driver.DeviceIOError, r"broke the event ring protocol: its producer index moved backwards"),
    ("jump", _driver.DeviceIOError, r"broke the event ring protocol: its producer index ran to \d+, past the ring"),
])
def test_card_fails_mid_run(tree: Tree, fault: str, error, message: str) -> None:
    """A card that stops or breaks the ring mid-run raises a clear error from the run, never hangs; `auto` (which
    picked it) does not switch to the model."""
    fake = tree.fake(ingress_capacity=4096)
    lines: list[str] = []
    backend = open_backend("auto", f2=tree.options(fake), f1=F1Options(sysfs_root=tree.sysfs),
                           announce=lines.append)
    assert backend.name == "f2"
    packets = timed(pack_messages(generate(5_000, 20, 6)))
    run(backend, packets[:100])
    fake.inject(fault, 5)
    with pytest.raises(error, match=message):
        run(backend, packets[100:])
    assert backend.name == "f2" and len(lines) == 1


# -- auto, info, the real system -----------------------------------------------------------------------------------

def test_auto_prefers_f2_then_f1_then_software(tmp_path: Path) -> None:
    f2_tree = make_tree(tmp_path / "f2")
    f1_tree = f1_fake_tree.make_tree(tmp_path / "f1")
    lines: list[str] = []
    both = open_backend("auto", f2=f2_tree.options(f2_tree.fake()), f1=f1_tree.options(f1_tree.fake()),
                        announce=lines.append)
    assert both.name == "f2" and lines[-1] == f"tickgate: backend auto -> f2 ({both.description})"
    assert both.description.startswith("f2: slot 0 (0000:00:1f.0), tickgate image (map v")
    none = make_tree(tmp_path / "none", slots=0)
    legacy = open_backend("auto", f2=none.options(None), f1=f1_tree.options(f1_tree.fake()), announce=lines.append)
    assert legacy.name == "f1"
    cleared = make_tree(tmp_path / "cleared", (0x1D0F, f2_map.CLEARED_DEVICE_ID, 0x1D0F, 0x1D51))
    neither = open_backend("auto", f2=cleared.options(cleared.fake()), f1=F1Options(sysfs_root=none.sysfs),
                           announce=lines.append)
    assert neither.name == "software"
    assert lines[-1].startswith("tickgate: backend auto -> software (no matching card: slot 0 (0000:00:1f.0) is "
                                "cleared (application function 1d0f:9048)")
    assert "; no F1 card: no management function 1d0f:1041" in lines[-1]
    assert "f2" in BACKENDS and open_backend("f2", f2=f2_tree.options(f2_tree.fake())).name == "f2"


def test_info_lists_f2_cards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tickgate.host.cli import info, main

    tree = make_tree(tmp_path, slots=2)
    (tree.sysfs / "0000:00:1e.0" / "device").write_text(f"{f2_map.CLEARED_DEVICE_ID:#06x}\n")  # slot 0 cleared
    d = info.f2_cards(tree.sysfs)
    assert d["expected"] == {"ids": "1d0f:f074 (subsystem 1d0f:7467)", "map_version": MAP_VERSION, "agfi_id": None}
    assert d["slots"] == [
        {"slot": 0, "mgmt_address": "0000:00:1e.1", "app_address": "0000:00:1e.0",
         "ids": "1d0f:9048 (subsystem 1d0f:7467)", "matches": False,
         "why_not": "slot 0 (0000:00:1e.0) is cleared (application function 1d0f:9048): load the image "
                    "(fpga-load-local-image -S 0 -I <agfi id>)"},
        {"slot": 1, "mgmt_address": "0000:00:1f.1", "app_address": "0000:00:1f.0",
         "ids": "1d0f:f074 (subsystem 1d0f:7467)", "matches": True, "why_not": None}]
    ring = d["ring"]  # this process's chance of pinning the ring (2**15 records, else one page): it says which
    if ring["ok"]:
        assert ring["records"] in (1 << 15, 64) and ring["how"]
        assert (ring["records"] == 64) == ("hugepages" in (ring["why_not"] or ""))
    else:
        assert "root" in ring["why_not"] or "ulimit" in ring["why_not"]
    assert "ring" not in info.f2_cards(tmp_path / "none")  # no card: nothing pinned to find out
    assert main(["info", "--json", "--sysfs-root", str(tree.sysfs)]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index(next(line for line in out if line.startswith("F2 cards")))
    assert out[at + 1].startswith("  slot 0: 0000:00:1e.0 1d0f:9048 (subsystem 1d0f:7467); does not match: slot 0")
    assert out[at + 2] == "  slot 1: 0000:00:1f.0 1d0f:f074 (subsystem 1d0f:7467); matches"
    assert out[at + 3].startswith("  host event ring: ")
    assert json.loads(out[-1])["f2_cards"]["slots"][1]["matches"] is True


def test_pinning_the_ring_on_this_machine() -> None:
    """The real SystemF2Io: the ring's memory is pinned and its physical address read, or the refusal names
    the privilege or setting that is missing (CAP_SYS_ADMIN, locking, hugepages)."""
    try:
        ring = _driver.f2_pin_ring_check(f2_map.RING_MIN_LOG2)
    except _driver.DeviceIOError as e:
        assert any(s in str(e) for s in ("CAP_SYS_ADMIN", "ulimit -l", "hugepages", "pagemap")), str(e)
    else:
        assert ring["ring_bus"] % 4096 == 0 and ring["ring_bus"] > 0 and ring["head_bus"] > 0
        assert ring["bytes"] == 64 * f2_map.RECORD_BYTES and ring["how"]


def test_expected_manifest_is_the_f2_images() -> None:
    m = expected_manifest()
    assert (m.vendor_id, m.device_id, m.subsystem_vendor_id, m.subsystem_id) == APP_IDS
    assert m != ImageManifest.expected()  # the legacy F1 image has its own device ID


def test_automatic_ring_size(tree: Tree) -> None:
    """ring_log2 None: the largest ring (2 MiB) where it can be pinned, as the fake's memory always can."""
    backend = tree.backend(tree.fake(), ring_log2=None)
    assert backend.device.ring["records"] == 1 << _driver.F2_AUTO_RING_LOG2
    assert backend.device.read_register(REGISTER_MAP["ring_size_log2"].offset) == _driver.F2_AUTO_RING_LOG2
    with pytest.raises(ValueError, match=r"ring_log2 5 is outside 6\.\.24"):
        tree.backend(tree.fake(), ring_log2=5)


def test_manifest_as_the_bitstream_build_writes_it(tmp_path: Path) -> None:
    """`make bitstream`'s manifest (F2, the default platform) is the image the f2 backend expects."""
    from tickgate.bitstreams.configs import BitstreamConfig
    from tickgate.bitstreams.manifest import make_manifest, write_manifest

    path = tmp_path / "manifest.json"
    write_manifest(path, {**make_manifest(BitstreamConfig("t"), {}), "agfi_id": "agfi-0123456789abcdef0"})
    manifest = ImageManifest.load(path)
    want = expected_manifest()
    assert (manifest.vendor_id, manifest.device_id, manifest.subsystem_vendor_id, manifest.subsystem_id,
            manifest.map_version) == (want.vendor_id, want.device_id, want.subsystem_vendor_id, want.subsystem_id,
                                      MAP_VERSION)
    assert json.loads(path.read_text())["platform"] == "f2"
