"""Strategies: the `Strategy` base class, the built-in ones by name, and loading one from a file."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

from .armed_imbalance import ArmedImbalance
from .base import Strategy
from .imbalance import Imbalance
from .market_maker import MarketMaker

__all__ = ["STRATEGIES", "ArmedImbalance", "Imbalance", "MarketMaker", "Strategy", "load_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {"imbalance": Imbalance, "market_maker": MarketMaker, "armed": ArmedImbalance}


def _from_file(path: Path) -> type[Strategy]:
    spec = importlib.util.spec_from_file_location(f"tickgate_strategy_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, Strategy) and c.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise ValueError(f"{path}: expected exactly one Strategy subclass defined in the file, found {names}")
    return found[0]


def load_strategy(spec: str, params: dict[str, Any] | None = None) -> Strategy:
    """A strategy by name (`imbalance`, `market_maker`) or from a FILE.py defining one Strategy subclass."""
    if spec in STRATEGIES:
        cls = STRATEGIES[spec]
    elif spec.endswith(".py"):
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"strategy file {spec}: no such file")
        cls = _from_file(path)
    else:
        raise ValueError(f"unknown strategy {spec!r}: one of {', '.join(STRATEGIES)} or a FILE.py")
    return cls(**(params or {}))
