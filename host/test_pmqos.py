"""`--cpu-dma-latency`: the PM QoS limit written and its file held open for the run's life, released after."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from tickgate.host import pmqos
from tickgate.host.cli import main
from tickgate.host.pmqos import CpuDmaLatency, cpuidle_states


def holders(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    fds = Path("/proc/self/fd")
    n = 0
    for fd in fds.iterdir():
        try:
            n += os.readlink(fd) == str(path)
        except OSError:
            continue
    return n


def test_the_limit_is_written_held_and_released(tmp_path):
    fake = tmp_path / "cpu_dma_latency"
    fake.write_bytes(b"")
    qos = CpuDmaLatency(0, fake)
    with qos:
        assert qos.held and holders(fake) == 1
        assert struct.unpack("=i", fake.read_bytes()) == (0,)
    assert not qos.held and holders(fake) == 0
    qos.close()  # idempotent


def test_a_limit_out_of_range_or_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="0 to"):
        CpuDmaLatency(-1)
    with pytest.raises(OSError):
        CpuDmaLatency(0, tmp_path / "none").open()


def test_run_holds_the_limit_while_running_and_releases_it_after(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "cpu_dma_latency"
    fake.write_bytes(b"")
    monkeypatch.setattr(pmqos, "CPU_DMA_LATENCY", fake)
    from tickgate.host.run import Runner

    seen = []
    run = Runner.run

    def spy(self):
        seen.append(holders(fake))
        return run(self)

    monkeypatch.setattr(Runner, "run", spy)
    assert main(["run", "--feed", "gen:2000:10:1", "--exchange", "paper", "--backend", "software", "--json",
                 "--no-progress", "--cpu-dma-latency", "3"]) == 0
    assert seen == [1] and holders(fake) == 0
    assert struct.unpack("=i", fake.read_bytes()) == (3,)
    out, err = capsys.readouterr()
    assert "limit 3 us held" in err
    assert json.loads(out.splitlines()[-1])["tuning"] == {"cpu_dma_latency_us": 3, "sim_busy_poll": False}


def test_sim_busy_poll_is_an_option_of_the_simulator_only(capsys):
    assert main(["run", "--feed", "gen:200:5:1", "--exchange", "paper", "--backend", "software",
                 "--no-progress", "--sim-busy-poll"]) != 0
    assert "--sim-busy-poll is an option of the local simulator" in capsys.readouterr().err


def test_run_without_the_file_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pmqos, "CPU_DMA_LATENCY", tmp_path / "none")
    assert main(["run", "--feed", "gen:200:5:1", "--exchange", "paper", "--backend", "software",
                 "--no-progress", "--cpu-dma-latency", "0"]) != 0
    assert "cannot hold the limit" in capsys.readouterr().err


def test_cpuidle_states_reads_the_sysfs_tree(tmp_path):
    (tmp_path / "cpuidle").mkdir()
    (tmp_path / "cpuidle" / "current_driver").write_text("haltpoll\n")
    for i, (name, lat) in enumerate((("POLL", 0), ("haltpoll idle", 1))):
        d = tmp_path / "cpu0" / "cpuidle" / f"state{i}"
        d.mkdir(parents=True)
        (d / "name").write_text(name)
        (d / "latency").write_text(str(lat))
        (d / "usage").write_text("7")
    assert cpuidle_states(0, tmp_path) == {"driver": "haltpoll", "states": [
        {"name": "POLL", "latency_us": 0, "usage": 7}, {"name": "haltpoll idle", "latency_us": 1, "usage": 7}]}


def test_run_against_a_busy_polling_simulator_trades(capsys):
    assert main(["run", "--feed", "gen:3000:10:1", "--exchange", "sim", "--sim-busy-poll", "--backend", "software",
                 "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["orders"] > 0 and summary["tuning"] == {"cpu_dma_latency_us": None, "sim_busy_poll": True}
