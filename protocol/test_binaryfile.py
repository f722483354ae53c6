"""BinaryFILE reading and writing, on the real files in ../shared/data/itch and on written ones."""

from __future__ import annotations

import gzip
import io
import itertools
from pathlib import Path

import pytest

from tickgate.protocol import itch
from tickgate.protocol.binaryfile import BinaryFileReader, TruncatedFileError, write_binaryfile

ITCH_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "itch"
DAY_START = ITCH_DIR / "nasdaq_day_start_1000msgs.itch50"
TRUNCATED = ITCH_DIR / "nasdaq_2016_truncated_500B.itch50"
MEATPY = ITCH_DIR / "meatpy_synthetic_20msgs.itch50"
needs_data = pytest.mark.skipif(not ITCH_DIR.is_dir(), reason="../shared/data is not present")


def _split_by_hand(data: bytes) -> tuple[list[bytes], int]:
    """Independent framing walk: whole messages and the size of an incomplete tail."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        n = int.from_bytes(data[pos : pos + 2], "big")
        if n == 0 or pos + 2 + n > len(data):
            break
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out, len(data) - pos


@needs_data
@pytest.mark.parametrize("path", sorted(ITCH_DIR.glob("*.itch50")), ids=lambda p: p.name)
def test_every_shared_file_reads_and_decodes(path: Path) -> None:
    data = path.read_bytes()
    expected, tail = _split_by_hand(data)
    r = BinaryFileReader(path)
    msgs = list(r)
    assert msgs == expected
    assert r.messages == len(msgs) > 0
    assert r.truncated_bytes == tail
    assert r.bytes_read == r.total_bytes == len(data)
    assert r.progress == 1.0
    for m in msgs:
        assert itch.encode(itch.decode(m)) == m


@needs_data
def test_day_start_has_1000_messages() -> None:
    r = BinaryFileReader(DAY_START)
    msgs = list(r)
    assert len(msgs) == r.messages == 1000
    assert (r.truncated_bytes, r.end_of_session) == (0, False)
    assert itch.decode(msgs[0]).message_type == "S"
    assert sum(m[:1] == b"R" for m in msgs) == 993


@needs_data
def test_truncated_file_yields_16_and_counts_the_cut() -> None:
    r = BinaryFileReader(TRUNCATED)
    msgs = list(r)
    assert len(msgs) == r.messages == 16
    assert r.truncated_bytes > 0
    assert 16 * 2 + sum(map(len, msgs)) + r.truncated_bytes == 500
    assert not r.end_of_session


@needs_data
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 6, 7, 13, 39, 41, 4096])
@pytest.mark.parametrize("path", [DAY_START, TRUNCATED, MEATPY], ids=lambda p: p.name)
def test_tiny_chunks_give_the_same_messages(path: Path, chunk: int) -> None:
    whole = BinaryFileReader(path)
    ref = list(whole)
    r = BinaryFileReader(path, chunk_bytes=chunk)
    assert list(r) == ref
    assert (r.messages, r.truncated_bytes, r.end_of_session) == (
        whole.messages, whole.truncated_bytes, whole.end_of_session)


@needs_data
def test_gzip_and_plain_agree_and_magic_beats_extension(tmp_path: Path) -> None:
    plain = DAY_START.read_bytes()
    gz = tmp_path / "day.bin"  # no .gz extension: recognised by its magic
    gz.write_bytes(gzip.compress(plain))
    r = BinaryFileReader(gz, chunk_bytes=777)
    assert list(r) == list(BinaryFileReader(DAY_START))
    assert r.is_gzip and r.messages == 1000
    assert r.total_bytes == gz.stat().st_size < len(plain)
    assert r.bytes_read == len(plain)


@needs_data
def test_cut_gzip_stream_reads_up_to_the_cut(tmp_path: Path) -> None:
    ref = list(BinaryFileReader(DAY_START))
    z = gzip.compress(DAY_START.read_bytes())
    path = tmp_path / "cut.itch50.gz"
    path.write_bytes(z[: len(z) // 2])
    for chunk in (1000, 1 << 20):
        r = BinaryFileReader(path, chunk_bytes=chunk, allow_truncated=True)
        msgs = list(r)
        assert 0 < len(msgs) < 1000 and msgs == ref[: len(msgs)]
        assert r.gzip_incomplete and not r.end_of_session
        runs = list(BinaryFileReader(path, chunk_bytes=chunk, allow_truncated=True).runs(1400))
        assert sum(c for _, c in runs) == len(msgs)


def test_cut_gzip_stream_is_an_error_unless_allowed(tmp_path: Path) -> None:
    """Issue 17: a gzip cut short (a partial download of a day) read as if complete, only a counter to show it."""
    z = gzip.compress(DAY_START.read_bytes())
    path = tmp_path / "cut.itch50.gz"
    path.write_bytes(z[: len(z) // 2])
    with pytest.raises(TruncatedFileError, match=r"cut\.itch50\.gz: the gzip stream is cut short .*allow"):
        list(BinaryFileReader(path))
    with pytest.raises(TruncatedFileError):
        list(BinaryFileReader(path).runs(1400))


@needs_data
def test_file_objects_seekable_and_not() -> None:
    data = MEATPY.read_bytes()
    ref = list(BinaryFileReader(MEATPY))

    class Pipe(io.RawIOBase):  # readable, not seekable
        def __init__(self, b: bytes) -> None:
            self._b = io.BytesIO(b)

        def readable(self) -> bool:
            return True

        def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
            return self._b.readinto(buf)

    assert list(BinaryFileReader(io.BytesIO(data))) == ref
    assert list(BinaryFileReader(Pipe(data))) == ref
    assert list(BinaryFileReader(Pipe(gzip.compress(data)), chunk_bytes=5)) == ref


def _messages(n: int) -> list[bytes]:
    return [bytes([65 + i % 26]) * (1 + (i * 7) % 60) for i in range(n)] + [b"x" * 0xFFFF, b"y" * 256]


@pytest.mark.parametrize("name", ["out.itch50", "out.itch50.gz"])
@pytest.mark.parametrize("eos", [True, False])
def test_write_then_read_round_trip(tmp_path: Path, name: str, eos: bool) -> None:
    msgs = _messages(5000)
    path = tmp_path / name
    assert write_binaryfile(path, iter(msgs), end_of_session=eos) == len(msgs)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    for chunk in (3, 1 << 16):
        r = BinaryFileReader(path, chunk_bytes=chunk)
        assert list(r) == msgs
        assert (r.end_of_session, r.truncated_bytes) == (eos, 0)


def test_end_of_session_marker_stops_reading(tmp_path: Path) -> None:
    path = tmp_path / "eos.itch50"
    path.write_bytes(b"\x00\x01A\x00\x02BB\x00\x00\x00\x01C")
    for chunk in range(1, 12):
        r = BinaryFileReader(path, chunk_bytes=chunk)
        assert list(r) == [b"A", b"BB"]
        assert r.end_of_session and r.truncated_bytes == 0


@pytest.mark.parametrize("cut", [1, 2, 3, 10])
def test_cut_files_report_truncated_bytes(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.itch50"
    write_binaryfile(path, [b"abcdefghij"] * 3, end_of_session=False)
    path.write_bytes(path.read_bytes()[:-cut])
    for chunk in (1, 4, 1 << 20):
        r = BinaryFileReader(path, chunk_bytes=chunk)
        assert list(r) == [b"abcdefghij"] * 2
        assert r.truncated_bytes == 12 - cut


def test_write_rejects_empty_and_oversize_messages(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_binaryfile(tmp_path / "a", [b"ok", b""])
    with pytest.raises(ValueError):
        write_binaryfile(tmp_path / "b", [b"z" * 0x10000])


def test_runs_are_framed_blocks_independent_of_chunking(tmp_path: Path) -> None:
    msgs = _messages(3000)[:-2]
    path = tmp_path / "runs.itch50.gz"
    write_binaryfile(path, msgs)
    framed = b"".join(len(m).to_bytes(2, "big") + m for m in msgs)
    ref = list(BinaryFileReader(path).runs(200))
    assert b"".join(run for run, _ in ref) == framed
    assert sum(c for _, c in ref) == len(msgs)
    assert all(len(run) <= 200 for run, _ in ref)
    # every run is as full as it can be: the next message would not have fitted
    for (run, _), (nxt, _) in itertools.pairwise(ref):
        assert len(run) + 2 + int.from_bytes(nxt[:2], "big") > 200
    for chunk in (1, 5, 64, 1000):
        r = BinaryFileReader(path, chunk_bytes=chunk)
        assert list(r.runs(200)) == ref
        assert r.messages == len(msgs) and r.end_of_session


def test_runs_reject_a_message_larger_than_a_run(tmp_path: Path) -> None:
    path = tmp_path / "big.itch50"
    write_binaryfile(path, [b"a" * 10, b"b" * 300])
    with pytest.raises(ValueError):
        list(BinaryFileReader(path).runs(100))
