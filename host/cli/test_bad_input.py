"""Every CLI input tried with something wrong: a clear message naming it, exit 2, never a traceback."""

from __future__ import annotations

import pytest

from tickgate.host.cli import main

RUN = ["run", "--feed", "gen:100:2:1", "--backend", "software", "--exchange", "paper", "--no-progress"]


@pytest.mark.parametrize(("argv", "message"), [
    (["replay", "/nonexistent"], "feed /nonexistent: no such file"),
    (["replay", "gen:abc"], "expected gen:MESSAGES:SYMBOLS[:SEED]"),
    (["replay", "gen:100:2:1", "--order-table", "99:1:1"], "bucket_bits must be 1 to 16"),
    (["replay", "gen:100:2:1", "--symbols", "TOO LONG SYMBOL"], "ITCH symbols are 1 to 8 printable"),
    (["replay", "gen:100:2:1", "--max-levels", "0"], "max_levels must be an integer of at least 1"),
    (["gen", "/tmp/never-written.itch50", "--messages", "-5"], "messages must be >= 0"),
    ([*RUN, "--param", "x"], "--param 'x': expected KEY=VALUE"),
    ([*RUN, "--strategy", "nosuch"], "unknown strategy 'nosuch'"),
    ([*RUN, "--limit", "max_order_shares=abc"], "--limit max_order_shares=abc: not a number"),
    ([*RUN, "--limit", "nosuch=1"], "unknown risk limits ['nosuch']"),
    ([*RUN, "--limits", "/nonexistent.json"], "No such file or directory: '/nonexistent.json'"),
    ([*RUN[:-3], "--exchange", "nohost"],
     "--exchange 'nohost': expected sim, paper, HOST:PORT, fix:sim or fix:HOST:PORT"),
    (["run", "--feed", "udp://999.1.1.1:70000", "--backend", "software", "--exchange", "paper"],
     "port must be 0 to 65535, not 70000"),
    (["backtest", "/nonexistent", "--strategy", "imbalance"], "no such feed file: /nonexistent"),
    (["sim", "/nonexistent"], "/nonexistent: no such file"),
])
def test_bad_cli_input_is_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_limits_file_names_itself(tmp_path, capsys):
    f = tmp_path / "limits.json"
    f.write_text("{not json")
    assert main([*RUN, "--limits", str(f)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"limits file {f}: not JSON" in err
    f.write_text("[1, 2]")
    assert main([*RUN, "--limits", str(f)]) == 2
    assert "expected a JSON object of limits, not list" in capsys.readouterr().err
