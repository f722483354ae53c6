"""Feed sources for `tickgate run`, by spec string.

- `gen:MESSAGES:SYMBOLS:SEED` (or `gen:MESSAGES:SYMBOLS`, seed 1): the seeded generator, packed into
  MoldUDP64 packets, ending with an end-of-session packet;
- `udp://GROUP:PORT[@IFACE_ADDR]`: a live MoldUDP64 stream (multicast group or unicast address), with
  gap re-requests to `rerequest` (HOST:PORT) if given, received natively (`NativeUdpFeed`: C++, kernel
  receive times) or, with `udp_receiver="python"`, by `MoldUdpFeed` (the reference);
- `udp://GROUP_A:PORT_A,GROUP_B:PORT_B[@IFACE_ADDR]`: lines A and B of one stream (either receiver):
  (payload, rx_ns, line) out, only what both lines lost re-requested;
- anything else: a file, BinaryFILE (plain or gzip) or pcap/pcapng (`open_feed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tickgate.protocol.packet import Packet

from .files import open_feed, pack_messages

__all__ = ["UDP_RECEIVERS", "GeneratedFeed", "open_source"]


class GeneratedFeed:
    """Packets of a generated stream (rx_ns 0); `stats` counts them."""

    def __init__(self, messages: int, symbols: int, seed: int) -> None:
        from .generator import Generator

        self.gen = Generator(messages, symbols, seed)
        self.packets = 0

    def __iter__(self) -> Iterator[Packet]:
        self.packets = 0
        for p in pack_messages(iter(self.gen), end_of_session=True):
            self.packets += 1
            yield Packet(p, 0)

    def stats(self) -> dict[str, int]:
        return {"gen_messages": self.gen.messages, "feed_packets": self.packets}


def _hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {s!r}")
    return host, int(port)


UDP_RECEIVERS = ("native", "python")


def open_source(spec: str, *, rerequest: str | None = None, idle_timeout_s: float = 5.0,
                allow_truncated: bool = False, udp_receiver: str = "native") -> Iterable[Packet]:
    """The feed named by `spec` (see the module doc); ValueError if it cannot be. `allow_truncated`: a gzip
    BinaryFILE cut short is read up to the cut (else an error at the cut). `udp_receiver`: "native" (C++,
    recvmmsg) or "python"."""
    if spec.startswith("gen:"):
        parts = spec.split(":")[1:]
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
            raise ValueError(f"generator feed {spec!r}: expected gen:MESSAGES:SYMBOLS[:SEED]")
        messages, symbols, seed = (int(p) for p in (*parts, "1")[:3])
        return GeneratedFeed(messages, symbols, seed)
    if spec.startswith("udp://"):
        from .udp import MoldUdpFeed, parse_udp_lines
        from .udp_native import NativeUdpFeed

        if udp_receiver not in UDP_RECEIVERS:
            raise ValueError(f"UDP receiver {udp_receiver!r}: expected one of {', '.join(UDP_RECEIVERS)}")
        (group, port), line_b, iface = parse_udp_lines(spec)
        rr = _hostport(rerequest) if rerequest else None

        feed = NativeUdpFeed if udp_receiver == "native" else MoldUdpFeed
        return feed(group, port, iface=iface, rerequest=rr, idle_timeout_s=idle_timeout_s, line_b=line_b)
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"feed {spec}: no such file (or use gen:MESSAGES:SYMBOLS:SEED, udp://GROUP:PORT)")
    return open_feed(path, allow_truncated=allow_truncated)
