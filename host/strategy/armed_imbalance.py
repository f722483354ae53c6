"""Armed imbalance: the card fires, Python arms and re-arms ("the software arms, the card fires").

For each of the first `symbols` symbols whose top of book it sees (or the names in `names`), it arms two rules
in the card: when the bid size passes `ratio` times the ask size, buy `shares` at the best ask plus `offset`
(time in force `tif`, IOC by default); mirrored for the ask. Each rule fires once (`fires`); when it has
fired, `on_fire` arms it again while the symbol's position is within `max_position`, so no Python runs
between a tick and its order, and Python decides only whether to go on.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tickgate.protocol.events import EventKind
from tickgate.protocol.rules import IMBALANCE_ONE, PriceMode, RuleCondition

from .armed import Fire
from .base import Strategy

__all__ = ["ArmedImbalance"]

_BBO = int(EventKind.BBO)


class ArmedImbalance(Strategy):
    name: ClassVar[str] = "armed"
    defaults: ClassVar[dict[str, Any]] = {
        "ratio": 3.0,  # bid/ask size ratio that fires (and ask/bid)
        "shares": 100,
        "offset": 0,  # Price(4) beyond the touch (a buy pays ask + offset; a sell takes bid - offset)
        "tif": "3",  # OUCH time in force: IOC
        "fires": 1,  # fires per arming
        "symbols": 8,  # how many symbols to arm (the first seen), unless `names`
        "names": "",  # comma-separated symbols to arm instead
        "max_position": 500,  # re-arm a side only while the position leaves room for its order
    }

    def on_start(self) -> None:
        p = self.params
        self._names = {n.strip() for n in p["names"].split(",") if n.strip()}
        self._slots = int(p["symbols"]) if not self._names else len(self._names)
        self._armed: dict[int, int] = {}  # locate -> its first rule index (buy; sell is the next)
        self.fired = self.rearmed = 0

    def on_events(self, batch: np.ndarray) -> None:
        if len(self._armed) >= self._slots:
            return  # everything armed: the card does the rest
        for locate in np.unique(batch["locate"][batch["kind"] == _BBO]).tolist():
            if locate in self._armed or len(self._armed) >= self._slots:
                continue
            name = self.directory.by_locate.get(locate)
            if name is None or (self._names and name not in self._names):
                continue
            index = 2 * len(self._armed)
            self._armed[locate] = index
            self._arm(locate, index, "B")
            self._arm(locate, index + 1, "S")

    def _arm(self, locate: int, index: int, side: str) -> None:
        p = self.params
        buy = side == "B"
        self.orders.arm(index, locate, RuleCondition.BID_IMBALANCE if buy else RuleCondition.ASK_IMBALANCE,
                        int(p["ratio"] * IMBALANCE_ONE), side, int(p["shares"]),
                        int(p["offset"]) if buy else -int(p["offset"]),
                        price_mode=PriceMode.ASK if buy else PriceMode.BID, tif=p["tif"], tag=locate,
                        fires=int(p["fires"]))

    def on_fire(self, fire: Fire) -> None:
        self.fired += 1
        if fire.left != 0:
            return
        locate = fire.tag
        position = self.orders.position(fire.symbol)
        room = self.params["max_position"] - (position if fire.side == "B" else -position)
        if room >= self.params["shares"]:
            self._arm(locate, fire.rule, fire.side)
            self.rearmed += 1
