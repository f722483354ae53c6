"""The C++ header generator: deterministic, runnable without the package, and the header compiles cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tickgate.protocol import codegen_cpp, codegen_cpp_sections, events, ouch, registers, soupbintcp
from tickgate.protocol.itch_spec import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "protocol" / "codegen_cpp.py"
CXX = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
STRICT = ["-std=c++20", "-Wall", "-Wextra", "-Werror", "-Wpedantic", "-Wconversion", "-Wsign-conversion",
          "-Wshadow", "-Wold-style-cast"]


def test_render_is_deterministic_and_bannered() -> None:
    text = codegen_cpp.render()
    assert text == codegen_cpp.render()
    banner = text.split("\n", 1)[0]
    assert banner.startswith("// tickgate/protocol.hpp: generated from protocol/") and "do not edit" in banner
    for ns in ("wire", "itch", "mold", "ouch", "soup", "events", "shm", "f2", "regs", "rules", "net"):
        assert f"namespace tickgate::{ns} {{" in text
    assert text.endswith("}  // namespace tickgate::net\n")


def test_script_runs_without_the_package(tmp_path: Path) -> None:
    """`python -S` has no site-packages and so no tickgate; only numpy's folder is put on the path."""
    numpy_dir = str(Path(np.__file__).resolve().parents[1])
    out = tmp_path / "gen" / "tickgate" / "protocol.hpp"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": numpy_dir}
    probe = subprocess.run([sys.executable, "-S", "-c", "import tickgate.protocol"], env=env,
                           capture_output=True, cwd=tmp_path)
    assert probe.returncode != 0  # the package really is out of reach
    for _ in range(2):
        subprocess.run([sys.executable, "-S", str(SCRIPT), str(out)], env=env, cwd=tmp_path, check=True)
    assert out.read_text(encoding="utf-8") == codegen_cpp.render()


def test_script_leaves_an_unchanged_header_alone(tmp_path: Path) -> None:
    out = tmp_path / "protocol.hpp"
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True)
    first = out.read_bytes()
    os.utime(out, (1, 1))
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True)
    assert out.read_bytes() == first and out.stat().st_mtime == 1
    printed = subprocess.run([sys.executable, str(SCRIPT)], check=True, capture_output=True).stdout
    assert printed == first
    assert subprocess.run([sys.executable, str(SCRIPT), "a", "b"], capture_output=True).returncode == 2


def test_generated_header_is_not_in_the_source_tree() -> None:
    for top in ROOT.iterdir():
        if top.name in ("build", ".venv", ".git") or not top.is_dir():
            continue
        assert not list(top.rglob("protocol.hpp")), top


@pytest.mark.parametrize("name", ["class", "kLength", "Offset", "_x", "2fast", "for_each_field"])
def test_names_that_would_break_the_header_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        codegen_cpp_sections._ident(name)


def _cross_checks() -> str:
    """static_asserts written from the Python tables, independently of the generator."""
    out = []
    for m in MESSAGES:
        out.append(f"static_assert(itch::{m.name}::kLength == {m.length} && "
                   f"itch::kLengthByType['{m.type}'] == {m.length} && "
                   f"itch::{m.name}::kFields.size() == {len(m.fields)});")
        for i, f in enumerate(m.fields):
            out.append(f"static_assert(itch::{m.name}::Offset::{f.name} == {f.offset} && "
                       f"itch::{m.name}::Width::{f.name} == {f.width} && "
                       f'itch::{m.name}::kFields[{i}].name == "{f.name}");')
    views = {"Event": events.EVENT_DTYPE, **{f"{k.name.capitalize()}Event": events.KIND_DTYPES[k]
                                             for k in events.KIND_FIELDS}}
    for view, dtype in views.items():
        for name, (dt, off, *_) in dtype.fields.items():
            out.append(f"static_assert(offsetof(events::{view}, {name}) == {off} && "
                       f"sizeof(events::{view}::{name}) == {dt.itemsize});")
    for m in ouch.MESSAGES:
        out.append(f"static_assert(ouch::{m.name}::kLength == {m.length} && ouch::{m.name}::kType == '{m.type}');")
        out += [f"static_assert(ouch::{m.name}::Offset::{f.name} == {f.offset} && "
                f"ouch::{m.name}::Width::{f.name} == {f.width});" for f in m.fields]
    out.append(f"static_assert(soup::kHeaderLength == {soupbintcp.HEADER_LEN} && soup::type::UnsequencedData == 'U');")
    for r in registers.REGISTER_MAP:
        out.append(f"static_assert(regs::offset::{r.name} == {r.offset});")
    out.append(f"static_assert(regs::kMapVersion == {registers.MAP_VERSION});")
    return "\n".join(out)


_USE = r"""
#include <cstdio>
#include "tickgate/protocol.hpp"
using namespace tickgate;
%s
static_assert(itch::kLengthByType[0] == 0 && itch::kLengthByType['a'] == 0);
static_assert(sizeof(events::Event) == 64 && alignof(events::TradeEvent) == 64);
static_assert(regs::kCounters[regs::counter::type_h].name == "type_h");
int main() {
  std::byte msg[itch::kMaxLength]{};
  int fields = 0;
  const bool known = itch::visit_type('F', [&](auto m) {
    decltype(m)::for_each_field(msg, [&](const wire::Field&, auto) { ++fields; });
  });
  events::Event e{};
  e.kind = static_cast<std::uint8_t>(events::EventKind::kTrade);
  const auto trade = events::view_as<events::TradeEvent>(e);
  const std::uint64_t zero = itch::AddOrder::order_reference_number(msg) +
                             mold::Header::sequence_number(msg) + mold::DmaHeader::rx_time_ns(msg);
  std::printf("%%d %%d %%llu %%u %%u\n", known, fields, static_cast<unsigned long long>(zero),
              static_cast<unsigned>(trade.kind),
              static_cast<unsigned>(itch::AddOrderMpid::attribution(msg).size()));
  return 0;
}
"""


@pytest.mark.skipif(CXX is None, reason="no C++ compiler")
def test_header_compiles_with_strict_warnings(tmp_path: Path) -> None:
    assert CXX is not None
    header = tmp_path / "include" / "tickgate" / "protocol.hpp"
    header.parent.mkdir(parents=True)
    header.write_text(codegen_cpp.render(), encoding="utf-8")
    src = tmp_path / "use.cpp"
    src.write_text(_USE % _cross_checks(), encoding="utf-8")
    exe = tmp_path / "use"
    result = subprocess.run([CXX, *STRICT, "-O2", "-I", str(tmp_path / "include"), str(src), "-o", str(exe)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == [
        "1", str(len(next(m for m in MESSAGES if m.type == "F").fields)), "0", str(ord("T")), "4"]
