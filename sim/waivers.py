"""Per-design lint waivers for the alias wires in Amaranth's Verilog.

Amaranth keeps every named signal as a wire, also when the signal was merged with other nets: it then
writes `wire [3:0] rd__addr; assign rd__addr = beat[3:0];` and the logic reads `beat[3:0]`. Struct
fields appear the same way (`assign \\i__payload.data = i__payload[63:0];`), and so does a struct
assembled from parts (`assign fields = { \\$178 , \\$177 };`). Such an alias is never read, so `-Wall`
reports it as UNUSEDSIGNAL although the nets it names are used. `alias_waivers` waives exactly those
declarations (wires assigned only a rewiring of other nets: names, part-selects, constants, and
concatenations of them; no operators; not a constant alone), by file and line. Any other unused signal
still warns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Alias", "alias_waivers", "find_aliases"]

_IDENT = r"(?:\\\S+ ?|[A-Za-z_][\w$]*)"
_MODULE = re.compile(rf"^module\s+({_IDENT})")
_DECL = re.compile(rf"^\s*(wire|reg|input|output|inout)\b(?:\s*signed)?(?:\s*\[[^\]]*\])?\s*({_IDENT})\s*[;=]")
_TERM = rf"(?:{_IDENT}\s*(?:\[[^\]]*\])?|\d+'[bhd][0-9a-fA-FxzXZ]+)"
_CONSTANT = re.compile(r"\d+'[bhd][0-9a-fA-FxzXZ]+")
_ALIAS = re.compile(rf"^\s*assign\s+({_IDENT})\s*=\s*({_TERM}|\{{\s*{_TERM}(?:\s*,\s*{_TERM})*\s*\}})\s*;")


@dataclass(frozen=True)
class Alias:
    """`name` (declared on `line`, 1-based, of `module`) is written only as a copy of `source`."""

    module: str
    name: str
    source: str
    line: int


def _name(ident: str) -> str:
    return ident.strip().removeprefix("\\")


def find_aliases(verilog: str) -> list[Alias]:
    """The internal wires of each module assigned only a rewiring of other nets (see the module docstring)."""
    found: list[Alias] = []
    module = ""
    decls: dict[str, tuple[str, int]] = {}
    copies: dict[str, str] = {}

    def close() -> None:
        for name, source in copies.items():
            kind, line = decls.get(name, ("", 0))
            if kind == "wire":
                found.append(Alias(module, name, source, line))

    for number, text in enumerate(verilog.splitlines(), start=1):
        if m := _MODULE.match(text):
            close()
            module, decls, copies = _name(m.group(1)), {}, {}
        elif m := _DECL.match(text):
            kind, name = m.group(1), _name(m.group(2))
            if name not in decls or kind in ("input", "output", "inout"):
                decls[name] = (kind, number)
        elif m := _ALIAS.match(text):
            source = " ".join(m.group(2).replace("\\", "").split())
            if not _CONSTANT.fullmatch(source):  # a named wire tied to a constant is worth a warning
                copies[_name(m.group(1))] = source
    close()
    return sorted(found, key=lambda a: a.line)


def alias_waivers(verilog: str, filename: str) -> str:
    """A Verilator control file waiving UNUSEDSIGNAL on each alias declaration of `filename`."""
    lines = ["`verilator_config", f"// Alias wires of {filename} (see tickgate.sim.waivers): name = the net it copies."]
    for a in find_aliases(verilog):
        lines.append(f"// {a.module}: {a.name} = {a.source}")
        lines.append(f'lint_off -rule UNUSEDSIGNAL -file "*/{filename}" -lines {a.line}')
    return "\n".join(lines) + "\n"
