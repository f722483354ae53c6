"""Shared fixtures: where the real captures are, and generated streams cached per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"{DATA} is missing: the tests read real captures from ../shared/data beside the repository")
    return DATA


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """A function (messages, symbols, seed) -> path of a generated BinaryFILE, made once per session."""
    from tickgate.host.feeds.generator import generate
    from tickgate.protocol.binaryfile import write_binaryfile

    cache: dict[tuple[int, int, int], Path] = {}

    def make(messages: int, symbols: int, seed: int) -> Path:
        key = (messages, symbols, seed)
        if key not in cache:
            path = tmp_path_factory.mktemp("gen") / f"gen_{messages}_{symbols}_{seed}.itch50"
            write_binaryfile(path, generate(messages, symbols, seed))
            cache[key] = path
        return cache[key]

    return make


@pytest.fixture(scope="session")
def ray_local():
    """Ray embedded in the test process with 2 CPUs, started once per session (a few seconds) and shut down at
    its end; the backtest and verify commands find it up and use it."""
    ray = pytest.importorskip("ray")
    from tickgate.host.parallel import ensure_ray

    ensure_ray(2)
    yield ray
    ray.shutdown()
