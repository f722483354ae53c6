"""The f1 backend end to end against the fake card (`FakeF1Card`): a fake sysfs tree and device files in a
temporary folder, the software model behind them. Every stream must give the software backend's events and
counters; every way of not finding, not matching or losing the card must say so clearly."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tickgate import _driver
from tickgate.driver.f1_fake_tree import APP_IDS, Tree, make_tree
from tickgate.host.backend import BACKENDS, open_backend
from tickgate.host.backend_f1 import F1Options, ImageManifest, find_cards, open_f1
from tickgate.host.backend_f2 import F2Options
from tickgate.host.feeds import BinaryFileFeed, PcapFeed, adversarial, pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import EVENT_DTYPE, EventKind
from tickgate.protocol.packet import Packet
from tickgate.protocol.registers import MAP_VERSION, REGISTER_MAP

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PCAPS = sorted(DATA.glob("pcap/*Itch*/*.pcap"))
ITCH_FILES = sorted(DATA.glob("itch/*.itch50"))


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


def auto(tree: Tree, options: F1Options, **kw):
    """`--backend auto` on this tree only: no F2 card there (auto looks for one first), the F1 slots as given."""
    return open_backend("auto", f2=F2Options(sysfs_root=tree.sysfs), f1=options, **kw)


NO_F2 = "no F2 card: no management function 1d0f:9248 under "


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


def assert_same_as_software(tree: Tree, packets: list[Packet], config: CardConfig | None = None,
                            **fake_options) -> tuple[np.ndarray, dict[str, int], _driver.FakeF1Card]:
    """The f1 backend on the fake gives the software backend's event bytes and counters."""
    card_options = {}
    if config is not None:  # the card in the slot is configured as `config` asks (the image's capacities)
        card_options = {"symbols": sorted(config.symbols) if config.symbols is not None else None,
                        "session": config.session, "first_sequence": config.first_sequence,
                        "order_table": config.order_table, "max_levels": config.max_levels,
                        "max_symbols": config.max_symbols, "level_events": config.level_events}
    fake = tree.fake(**card_options, **fake_options)
    ours, our_counters = run(tree.backend(fake, config), packets)
    theirs, their_counters = run(open_backend("software", config), packets)
    assert len(ours) == len(theirs)
    assert ours.tobytes() == theirs.tobytes()
    assert our_counters == their_counters
    stats = fake.stats()
    assert (stats["overruns"], stats["overreads"], stats["outside_window"]) == (0, 0, 0)
    return ours, our_counters, fake


# -- equal events on every stream ----------------------------------------------------------------------------

def test_generated_stream(tree: Tree) -> None:
    packets = timed(pack_messages(generate(30_000, 100, 3), end_of_session=True))
    ev, _, fake = assert_same_as_software(tree, packets)
    assert (ev["kind"] == EventKind.BBO).sum() > 5_000 and (ev["kind"] == EventKind.TRADE).sum() > 50
    assert fake.stats()["short_transfers"] == 0


def test_small_buffers_and_short_transfers(tree: Tree) -> None:
    """A 4 KiB ingress buffer, 100 events of egress buffer, transfers cut at 1000 bytes (mid-record): the
    host must continue short transfers, drain events while the card is full, and lose nothing."""
    packets = timed(pack_messages(generate(20_000, 50, 8)))
    ev, _, fake = assert_same_as_software(tree, packets, ingress_capacity=4096, egress_capacity=100,
                                       max_transfer=1000)
    stats = fake.stats()
    assert stats["short_transfers"] > 100
    assert stats["events_out"] == len(ev)


def test_tracked_symbols_and_session(tree: Tree) -> None:
    msgs = list(generate(10_000, 40, 11))
    names = sorted({itch.symbol(itch.decode(m).stock) for m in msgs if m[:1] == b"R"})
    config = CardConfig(symbols=frozenset(names[::3]), session=b"TICKGATE01", first_sequence=1)
    ev, _, fake = assert_same_as_software(tree, timed(pack_messages(msgs)), config)
    assert len(ev) > 500 and fake.stats()["bytes_in"] > 0
    backend = tree.backend(tree.fake(), config)
    read = backend.device.read_register
    assert read(REGISTER_MAP["session_0"].offset) == int.from_bytes(b"TICK", "little")
    assert read(REGISTER_MAP["session_2"].offset) == int.from_bytes(b"01", "little")
    assert read(REGISTER_MAP["session_en"].offset) == 1
    assert read(REGISTER_MAP["first_sequence_lo"].offset) == 1
    assert read(REGISTER_MAP["symbol_index"].offset) == len(config.symbols) - 1
    # enabled, not tracking all, no level events; bit 1 (clear counters) takes effect at the fake's next transfer
    assert read(REGISTER_MAP["control"].offset) & ~2 == 1


@pytest.mark.parametrize("path", PCAPS[:4] + ITCH_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_captures(tree: Tree, path: Path) -> None:
    packets = list(PcapFeed(path) if path.suffix == ".pcap" else BinaryFileFeed(path))
    assert packets
    ev, counters, _ = assert_same_as_software(tree, packets, ingress_capacity=2048, max_transfer=700)
    reference, reference_counters = run(open_backend("model"), packets)  # and so equal to the reference model
    assert ev.tobytes() == reference.tobytes() and counters == reference_counters


@pytest.mark.parametrize("case", adversarial.suite(), ids=lambda c: c[0])
def test_adversarial_streams_at_capacity(tree: Tree, case) -> None:
    """Streams that push the card past its capacities (host.feeds.adversarial), on a card of those capacities."""
    _name, payloads, options = case
    config = CardConfig(**options)
    ev, counters, _ = assert_same_as_software(tree, timed(payloads), config, ingress_capacity=4096,
                                              egress_capacity=64, max_transfer=1500)
    overflows = ("order_table_full", "levels_full", "symbols_full", "degraded_symbols", "unknown_ref")
    assert sum(counters[k] for k in overflows) > 0 and len(ev) > 0


def sysev(code: str, ts: int = 1) -> bytes:
    return itch.encode(itch.make("S", timestamp=ts, event_code=code))


def test_malformed_streams(tree: Tree) -> None:
    s = [sysev(c, i) for i, c in enumerate("OSQMEC", 1)]
    session_cases = [
        mold.build("SESS", 1, s[:1])[:10],  # shorter than the header
        mold.build("SESS", 1, s[:2]),
        mold.build("SESS", 1, s[:2]),  # duplicate
        mold.build("SESS", 6, s[3:4]),  # gap
        mold.heartbeat("SESS", 9) + b"x",  # malformed heartbeat
        mold.build("SESS", 9, s[:2])[:-3],  # second block cut
        mold.build("SESS", 11, s[:1]) + b"junk",  # bytes after the counted blocks
        mold.build("SESS", 12, [b"", b"\x00" * 12, s[0][:-1], s[0], b"Z" * 30]),  # bad messages
        mold.build("DAY2", 1, s[:1]),  # wrong session
        mold.end_of_session("SESS", 20),
        mold.build("DAY2", 1, s[:3]),  # adopted after the end
        b"",  # an empty packet
    ]
    rng = random.Random(5)
    noisy: list[bytes] = []
    for p in pack_messages(generate(10_000, 60, 4), max_payload=400):
        r = rng.random()
        if r < 0.03:
            continue  # lost
        noisy.append(p)
        if r < 0.06:
            noisy.append(p)  # repeated
        elif r < 0.08:
            noisy.append(p[: rng.randrange(len(p))])  # cut anywhere
    counters = []
    for packets, ingress, transfer in ((session_cases, 256, 40), (noisy, 1024, 333)):
        ev, c, fake = assert_same_as_software(tree, timed(packets), ingress_capacity=ingress, max_transfer=transfer)
        assert fake.stats()["short_transfers"] > 0 and (ev["kind"] == EventKind.GAP).sum() == c["seq_gaps"]
        counters.append(c)
    session, noisy_counters = counters
    assert session["packets_malformed"] >= 5 and session["msg_bad_length"] > 0 and session["session_changes"] == 1
    assert noisy_counters["seq_gaps"] >= 10 and noisy_counters["packets_duplicate"] >= 10
    assert noisy_counters["packets_malformed"] + noisy_counters["msg_truncated"] > 0


# -- registers, identity, reset --------------------------------------------------------------------------------

def test_identify_registers_and_reset(tree: Tree) -> None:
    backend = tree.backend(tree.fake())
    dev = backend.device
    ident = dev.identify()
    assert ident["backend"] == "f1" and ident["location"] == "0000:00:1d.0"
    assert (ident["vendor_id"], ident["device_id"], ident["subsystem_vendor_id"], ident["subsystem_id"]) == APP_IDS
    assert ident["id"] == 0x544B4754 and ident["map_version"] == ImageManifest.expected().map_version
    assert dev.slot["mgmt_address"] == "0000:00:1e.0" and dev.slot["xdma"] == 0
    assert dev.h2c_path == str(tree.h2c) and dev.c2h_path == str(tree.c2h)
    events, counters = run(backend, timed(pack_messages(generate(2_000, 10, 1))))
    assert counters["messages"] == 2_000 and counters["events"] == len(events)
    assert dev.read_register64(REGISTER_MAP["messages"].offset) == 2_000
    assert dev.read_register(REGISTER_MAP["latency_min"].offset) == 0xFFFFFFFF  # all ones, yet not "gone"
    with pytest.raises(_driver.RegisterRefusedError, match="id is not writable"):
        dev.write_register(REGISTER_MAP["id"].offset, 1)
    with pytest.raises(_driver.RegisterRefusedError, match="no register at offset 0x2"):
        dev.read_register(2)
    backend.feed(mold.build(b"TICKGATE01", 1_000_000, [sysev("O")]))  # a gap: a GAP and a STATUS event
    backend.flush()
    assert dev.pending() == 2
    dev.reset()
    assert dev.pending() == 0 and dev.counters()["messages"] == 0


def test_manifest(tmp_path: Path, tree: Tree) -> None:
    m = {"ids": {"vendor": "0x1d0f", "device": "0xf000", "subsystem_vendor": 0x1D0F,
                 "subsystem_device": "0x7467"}, "map_version": ImageManifest.expected().map_version,
         "config": {"clock_mhz": 250}, "git_commit": "abc123", "afi_id": "afi-0123", "agfi_id": "agfi-0456"}
    path = tmp_path / "image.json"
    path.write_text(json.dumps(m))
    manifest = ImageManifest.load(path)
    assert (manifest.vendor_id, manifest.device_id, manifest.subsystem_vendor_id, manifest.subsystem_id) == APP_IDS
    assert manifest.agfi_id == "agfi-0456" and manifest.config == {"clock_mhz": 250} and manifest.name == "agfi-0456"
    backend = tree.backend(tree.fake(), manifest=manifest)
    assert "agfi-0456" in backend.description
    path.write_text(json.dumps({**m, "ids": {"vendor": "0x1d0f"}}))
    with pytest.raises(ValueError, match=r"image.json: manifest: missing ids.device, ids.subsystem_vendor, ids.sub"):
        ImageManifest.load(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        ImageManifest.load(path)
    with pytest.raises(ValueError, match="not a 16-bit PCI ID"):
        ImageManifest.from_dict({**m, "ids": {**m["ids"], "device": "0x12345"}})


def test_manifest_as_the_bitstream_build_writes_it(tmp_path: Path) -> None:
    from tickgate.bitstreams.configs import BitstreamConfig
    from tickgate.bitstreams.manifest import make_manifest, write_manifest
    from tickgate.bitstreams.platforms import PLATFORMS

    path = tmp_path / "manifest.json"
    write_manifest(path, {**make_manifest(BitstreamConfig("t"), {}, platform=PLATFORMS["f1"]),
                          "agfi_id": "agfi-0123456789abcdef0"})
    manifest = ImageManifest.load(path)
    assert manifest == ImageManifest(*APP_IDS, MAP_VERSION, config=manifest.config, git_commit=manifest.git_commit,
                                     agfi_id="agfi-0123456789abcdef0")
    assert manifest.config["name"] == "t"


# -- no card, wrong image ---------------------------------------------------------------------------------------

def test_no_card(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, slots=0)
    with pytest.raises(_driver.NoCardError, match=r"no F1 card: no management function 1d0f:1041 under .*sys"):
        tree.backend(None)
    assert find_cards(tree.sysfs) == []
    lines: list[str] = []
    backend = auto(tree, tree.options(None), announce=lines.append)
    assert backend.name == "software" and len(lines) == 1
    assert lines[0].startswith("tickgate: backend auto -> software (no matching card: " + NO_F2)
    assert "; no F1 card: no management" in lines[0]
    assert backend.description == lines[0].split("(", 1)[1][:-1]


def test_missing_sysfs_root_is_no_card(tmp_path: Path) -> None:
    with pytest.raises(_driver.NoCardError, match="no F1 card"):
        open_f1(None, F1Options(sysfs_root=tmp_path / "absent", dev_dir=tmp_path))


@pytest.mark.parametrize(("app_ids", "message"), [
    (None, r"slot 0 \(0000:00:1d.0\): no application function in sysfs .*: load the image "
           r"\(fpga-load-local-image -S 0 -I <agfi id>\)"),
    ((0x1D0F, 0x1042, 0x1D0F, 0x1042), r"slot 0 \(0000:00:1d.0\) is cleared \(application function 1d0f:1042\)"),
    ((0x1D0F, 0xF001, 0x1D0F, 0x7467), r"holds another image: its application function is 1d0f:f001 \(subsystem "
                                       r"1d0f:7467\), the expected image is 1d0f:f000 \(subsystem 1d0f:7467\)"),
    ((0x1D0F, 0xF000, 0x10EE, 0x0001), r"holds another image: .*1d0f:f000 \(subsystem 10ee:0001\)"),
])
def test_wrong_image(tmp_path: Path, app_ids, message: str) -> None:
    tree = make_tree(tmp_path, app_ids)
    error = _driver.NoCardError if app_ids is None else _driver.WrongImageError
    with pytest.raises(error, match=message):
        tree.backend(tree.fake())
    cards = find_cards(tree.sysfs)
    assert len(cards) == 1 and cards[0]["mismatch"]
    lines: list[str] = []
    backend = auto(tree, tree.options(tree.fake()), announce=lines.append)
    assert backend.name == "software"
    assert lines[0].startswith("tickgate: backend auto -> software (no matching card: " + NO_F2)
    assert "; slot 0 (0000:00:1d.0)" in lines[0]


@pytest.mark.parametrize(("fake_options", "error", "message"), [
    ({"id": 0x12345678}, _driver.WrongImageError, "register id reads 0x12345678, tickgate's image has 0x544b4754"),
    ({"map_version": 2}, _driver.WrongImageError, f"register map version 2, the manifest says {MAP_VERSION} "
                                                  f"and this build of tickgate speaks {MAP_VERSION}"),
    ({"id": 0xFFFFFFFF}, _driver.CardGoneError, "stopped answering: register id read 0xffffffff"),
])
def test_wrong_registers(tree: Tree, fake_options, error, message: str) -> None:
    with pytest.raises(error, match=message):
        tree.backend(tree.fake(**fake_options))


def test_manifest_of_another_image(tree: Tree) -> None:
    other = ImageManifest(0x1D0F, 0xF000, 0x1D0F, 0x0001, ImageManifest.expected().map_version, agfi_id="agfi-x")
    with pytest.raises(_driver.WrongImageError, match="the expected image agfi-x is 1d0f:f000 "):
        tree.backend(tree.fake(), manifest=other)
    lines: list[str] = []
    backend = auto(tree, tree.options(tree.fake(), manifest=other), announce=lines.append)
    assert backend.name == "software" and "holds another image" in lines[0]
    backend = auto(tree, tree.options(tree.fake()), announce=lines.append)
    assert backend.name == "f1" and lines[1] == f"tickgate: backend auto -> f1 ({backend.description})"
    assert backend.description.startswith("f1: slot 0 (0000:00:1d.0), tickgate image (map v")


def test_missing_device_files(tree: Tree) -> None:
    tree.resource0.unlink()
    with pytest.raises(_driver.DeviceIOError, match=r"cannot open .*0000:00:1d.0/resource0: No such file"):
        tree.backend(tree.fake())
    with pytest.raises(_driver.DeviceIOError, match="resource0"):  # a matching card that cannot be opened:
        auto(tree, tree.options(tree.fake()))  # an error, not the model
    tree.resource0.write_bytes(b"")
    tree.c2h.unlink()
    with pytest.raises(_driver.DeviceIOError, match=r"cannot open .*dev/xdma0_c2h_0: No such file .*xdma driver"):
        tree.backend(tree.fake())


def test_no_xdma_driver(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, xdma=False)
    with pytest.raises(_driver.NoCardError, match=r"no XDMA character devices .* is the xdma driver loaded"):
        tree.backend(tree.fake())


def test_second_slot(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, slots=2)
    cards = find_cards(tree.sysfs)
    assert [(c["index"], c["mgmt_address"], c["app_address"], c["xdma"], c["mismatch"]) for c in cards] == [
        (0, "0000:00:1c.0", "0000:00:1b.0", 1, ""), (1, "0000:00:1e.0", "0000:00:1d.0", 0, "")]
    with pytest.raises(_driver.NoCardError, match="no F1 slot 2: 2 slot"):
        tree.backend(tree.fake(), slot=2)


# -- the card stops answering ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fault", "error", "message"), [
    ("gone", _driver.CardGoneError, r"the card in slot 0 \(0000:00:1d.0\) stopped answering: register "
                                    r"(ingress_free|events_ready|packets) .*read 0xffffffff"),
    ("eio", _driver.DeviceIOError, r"(pwrite|pread) on .*/dev/xdma0_(h2c|c2h)_0 failed after 0 of \d+ bytes: "
                                   r"Input/output error \(EIO\): the DMA transfer failed"),
    ("timeout", _driver.DeviceTimeoutError, r"on .*/dev/xdma0_(h2c|c2h)_0 failed .*\(ETIMEDOUT\): the DMA "
                                            r"transfer timed out"),
    ("stall", _driver.DeviceTimeoutError, r"the card in slot 0 \(0000:00:1d.0\) took no bytes for 300 ms"),
])
def test_card_stops_answering_mid_run(tree: Tree, fault: str, error, message: str) -> None:
    """A card that stops mid-run raises a clear error from the run; `auto` does not switch to the model."""
    fake = tree.fake(ingress_capacity=4096)
    lines: list[str] = []
    backend = auto(tree, tree.options(fake), announce=lines.append)
    assert backend.name == "f1"
    packets = timed(pack_messages(generate(5_000, 20, 6)))
    run(backend, packets[:100])
    fake.inject(fault, 5)
    with pytest.raises(error, match=message):
        run(backend, packets[100:])
    assert backend.name == "f1" and len(lines) == 1
    with pytest.raises(_driver.DeviceError):  # and stays failed
        run(backend, packets[:1])


def test_other_backends() -> None:
    assert set(BACKENDS) == {"model", "software", "f2", "f1", "auto", "sim"}
    with pytest.raises(ValueError, match="unknown backend 'card'"):
        open_backend("card")
    assert issubclass(_driver.DeviceError, OSError)  # `tickgate` prints it as an error, not a traceback


def test_capacities_are_the_images(tree: Tree) -> None:
    with pytest.raises(ValueError, match="max_symbols asks for 4; the image in the slot has cap_symbols=0"):
        tree.backend(tree.fake(), CardConfig(max_symbols=4))
    table = OrderTableConfig(bucket_bits=4, ways=2, stash=2)
    with pytest.raises(ValueError, match="order_table asks for 66; the image in the slot has cap_orders=0"):
        tree.backend(tree.fake(), CardConfig(order_table=table))
    backend = tree.backend(tree.fake(order_table=table, max_levels=3, level_events=True),
                           CardConfig(order_table=OrderTableConfig(bucket_bits=5, ways=1, stash=2), max_levels=3))
    ident = backend.device.identify()  # the same number of entries (66) in another geometry: accepted
    assert (ident["cap_orders"], ident["cap_levels"], ident["cap_symbols"]) == (66, 3, 0)


# -- tickgate info -----------------------------------------------------------------------------------------------

def test_info_cards_and_sim_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tickgate.host.cli import info, main

    tree = make_tree(tmp_path, slots=2)
    (tree.sysfs / "0000:00:1b.0" / "device").write_text("0x1042\n")  # slot 0 cleared
    sim = tmp_path / "sim"
    build = sim / "itch_decoder-0123" / "verilator-aa"
    build.mkdir(parents=True)
    (sim / "itch_decoder-0123" / "config.json").write_text('{"top": "itch_decoder", "config": {"depth": 4}}')
    (build / "tickgate-build.json").write_text('{"seconds": 2.34, "flags": ["-O3", "--trace-vcd"], '
                                               '"tools": ["5.048 rev x"]}')
    (sim / "itch_decoder-0123" / "verilator-bb").mkdir()
    (sim / "_runtime-77").mkdir()
    d = info.gather(tree.sysfs, sim_root=sim)
    assert d["cards"]["slots"] == [
        {"slot": 0, "mgmt_address": "0000:00:1c.0", "app_address": "0000:00:1b.0",
         "ids": "1d0f:1042 (subsystem 1d0f:7467)", "xdma": "xdma1", "matches": False,
         "why_not": "slot 0 (0000:00:1b.0) is cleared (application function 1d0f:1042): load the image "
                    "(fpga-load-local-image -S 0 -I <agfi id>)"},
        {"slot": 1, "mgmt_address": "0000:00:1e.0", "app_address": "0000:00:1d.0",
         "ids": "1d0f:f000 (subsystem 1d0f:7467)", "xdma": "xdma0", "matches": True, "why_not": None}]
    assert d["sim_builds"]["designs"] == [
        {"name": "itch_decoder-0123", "top": "itch_decoder", "config": {"depth": 4}, "builds": [
            {"folder": "verilator-aa", "complete": True, "waves": "vcd", "seconds": 2.3, "verilator": "5.048 rev x"},
            {"folder": "verilator-bb", "complete": False}]}]
    assert d["module"]["matches_protocol"] is True and d["module"]["devices"] == ["software", "sim", "f1", "f2"]
    assert d["toolchain"]["compiler"].startswith("c++")

    assert main(["info", "--json", "--sysfs-root", str(tree.sysfs)]) == 0
    out = capsys.readouterr().out.splitlines()
    out = out[out.index(next(line for line in out if line.startswith("F1 cards (legacy)"))):]
    assert out[1].startswith("  slot 0: 0000:00:1b.0 1d0f:1042 (subsystem 1d0f:7467) xdma1; does not match: slot 0")
    assert out[2] == "  slot 1: 0000:00:1d.0 1d0f:f000 (subsystem 1d0f:7467) xdma0; matches"
    assert json.loads(out[-1])["cards"]["slots"][1]["matches"] is True
    assert main(["info", "--sysfs-root", str(tmp_path / "none")]) == 0
    assert "none (no management function 1d0f:1041)" in capsys.readouterr().out


def test_blocking_calls_release_the_gil(tree: Tree) -> None:
    """While submit waits for a stalled card (300 ms, then a timeout), other Python threads run."""
    backend = tree.backend(tree.fake(ingress_capacity=256, fault="stall"))
    batch = mold.pack_dma(timed(pack_messages(generate(2_000, 10, 1))))
    stamps: list[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(_driver.DeviceTimeoutError, match="took no bytes for 300 ms"):
            backend.device.submit(batch)
        t1 = time.perf_counter()
    finally:
        stop.set()
        spinner.join()
    inside = [t for t in stamps if t0 + 0.05 < t < t1 - 0.05]
    assert t1 - t0 >= 0.3 and len(inside) > 20


def test_unaligned_caller_arrays(tree: Tree) -> None:
    """Events land in any contiguous EVENT_DTYPE array, whatever its alignment (here 8 bytes past 64)."""
    packets = timed(pack_messages(generate(3_000, 10, 2)))
    fake = tree.fake(egress_capacity=50, ingress_capacity=2048)  # holds the largest DMA record (1488 bytes)
    backend = tree.backend(fake)
    dev = backend.device
    dev.submit(mold.pack_dma(packets))  # drains into its spill while the card is full
    parts = []
    while dev.pending():
        raw = np.zeros(64 * 37 + 8, dtype=np.uint8)[8:]
        out = raw.view(EVENT_DTYPE)
        n = dev.collect(out)
        parts.append(out[:n].copy())
    ours = np.concatenate(parts)
    theirs, _ = run(open_backend("software"), packets)
    assert ours.tobytes() == theirs.tobytes()


def test_manifest_and_slot_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path, slots=2)
    other = {"ids": {"vendor": 0x1D0F, "device": 0xF000, "subsystem_vendor": 0x1D0F, "subsystem_device": 1},
             "map_version": MAP_VERSION, "agfi_id": "agfi-other"}
    (tmp_path / "other.json").write_text(json.dumps(other))
    monkeypatch.setenv("TICKGATE_F1_MANIFEST", str(tmp_path / "other.json"))
    with pytest.raises(_driver.WrongImageError, match="the expected image agfi-other is"):
        tree.backend(tree.fake())
    assert [c["mismatch"] != "" for c in find_cards(tree.sysfs)] == [True, True]
    monkeypatch.delenv("TICKGATE_F1_MANIFEST")
    monkeypatch.setenv("TICKGATE_F1_SLOT", "1")  # slot 1 is 0000:00:1d.0, the one tree.fake() serves
    assert tree.backend(tree.fake()).device.slot["app_address"] == "0000:00:1d.0"
