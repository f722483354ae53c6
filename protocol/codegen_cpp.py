"""The C++20 header `tickgate/protocol.hpp`, generated from the protocol tables.

Namespaces: `tickgate::wire` (field descriptors, byte-order readers), `tickgate::itch` (one struct per
ITCH message type: offsets, widths, typed accessors), `tickgate::mold` (MoldUDP64 and DMA headers),
`tickgate::ouch` (OUCH 5.0 messages, with writers for the inbound ones), `tickgate::soup` (SoupBinTCP framing),
`tickgate::events` (the 64-byte record and its per-kind views), `tickgate::shm` (the shared-memory event ring's
header), `tickgate::f2` (the F2 card's PCI IDs and host event ring: protocol/f2_map.py), `tickgate::regs` (the
register map).

Run as a script at build time, without the package installed: `python protocol/codegen_cpp.py OUT_PATH`
(no path: print to stdout). From Python: `tickgate.protocol.codegen_cpp.render()`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent
_TABLES = ("itch_spec", "moldudp64", "ouch", "soupbintcp", "events", "shm_ring", "f2_map", "registers", "rules",
           "net_headers")
_SECTIONS = "codegen_cpp_sections"
_SCRIPT_PACKAGE = "_tickgate_protocol_tables"  # the name protocol/ is loaded under when run as a script
HEADER_PATH = "tickgate/protocol.hpp"

_INCLUDES = """\
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

namespace tickgate::wire {
"""

_WIRE = """\
/// One field of a wire layout: name, byte offset, width in bytes, kind.
struct Field {
  std::string_view name;
  std::size_t offset;
  std::size_t width;
  Kind kind;
};

constexpr std::string_view kind_name(Kind kind) noexcept {
  return kKindNames[static_cast<std::size_t>(kind)];
}

/// True if `fields` lie end to end from byte 0 and fill exactly `length` bytes.
constexpr bool contiguous(std::span<const Field> fields, std::size_t length) noexcept {
  std::size_t next = 0;
  for (const Field& f : fields) {
    if (f.offset != next) return false;
    next += f.width;
  }
  return next == length;
}

/// The bytes of an unsigned integer in reverse order.
template <class T>
constexpr T byteswap(T v) noexcept {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (sizeof(T) == 1) {
    return v;
  } else {
#if defined(__GNUC__) || defined(__clang__)
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    else if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    else return __builtin_bswap64(v);
#else
    T r = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) r = static_cast<T>((r << 8) | ((v >> (8 * i)) & 0xFFu));
    return r;
#endif
  }
}

/// An unsigned big-endian integer at `p` (any alignment).
template <class T>
inline T load_be(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little) return byteswap(v);
  else return v;
}

/// An unsigned little-endian integer at `p` (any alignment).
template <class T>
inline T load_le(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) return byteswap(v);
  else return v;
}

inline std::uint8_t read_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }
inline std::uint16_t read_u16(const std::byte* p) noexcept { return load_be<std::uint16_t>(p); }
inline std::uint32_t read_u32(const std::byte* p) noexcept { return load_be<std::uint32_t>(p); }
inline std::uint64_t read_u48(const std::byte* p) noexcept {
  return (std::uint64_t{read_u16(p)} << 32) | read_u32(p + 2);
}
inline std::uint64_t read_u64(const std::byte* p) noexcept { return load_be<std::uint64_t>(p); }
inline std::uint16_t read_le_u16(const std::byte* p) noexcept { return load_le<std::uint16_t>(p); }
inline std::uint32_t read_le_u32(const std::byte* p) noexcept { return load_le<std::uint32_t>(p); }
inline std::uint64_t read_le_u64(const std::byte* p) noexcept { return load_le<std::uint64_t>(p); }
inline char read_char(const std::byte* p) noexcept { return static_cast<char>(*p); }
/// An alpha field as it is on the wire: left-justified, space-padded, not NUL-terminated.
inline std::string_view read_alpha(const std::byte* p, std::size_t width) noexcept {
  return {reinterpret_cast<const char*>(p), width};
}

/// An unsigned integer written big-endian at `p` (any alignment).
template <class T>
inline void store_be(std::byte* p, T v) noexcept {
  if constexpr (std::endian::native == std::endian::little) v = byteswap(v);
  std::memcpy(p, &v, sizeof(T));
}

inline void write_u8(std::byte* p, std::uint8_t v) noexcept { *p = static_cast<std::byte>(v); }
inline void write_u16(std::byte* p, std::uint16_t v) noexcept { store_be(p, v); }
inline void write_u32(std::byte* p, std::uint32_t v) noexcept { store_be(p, v); }
inline void write_u64(std::byte* p, std::uint64_t v) noexcept { store_be(p, v); }
inline void write_char(std::byte* p, char v) noexcept { *p = static_cast<std::byte>(v); }
/// An alpha field: `v` left-justified and space-padded to `width` (the caller keeps v.size() <= width).
inline void write_alpha(std::byte* p, std::size_t width, std::string_view v) noexcept {
  const std::size_t n = v.size() < width ? v.size() : width;
  std::memcpy(p, v.data(), n);
  std::memset(p + n, ' ', width - n);
}

}  // namespace tickgate::wire
"""

def _modules() -> dict[str, ModuleType]:
    """The tables and the section emitters: siblings in the package, or loaded from files as a script."""
    package = __package__ or _load_package()
    return {name: importlib.import_module(f"{package}.{name}") for name in (*_TABLES, _SECTIONS)}


def _load_package() -> str:
    if _SCRIPT_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _SCRIPT_PACKAGE, _HERE / "__init__.py", submodule_search_locations=[str(_HERE)])
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {_HERE} as a package")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_SCRIPT_PACKAGE] = module
        spec.loader.exec_module(module)
    return _SCRIPT_PACKAGE


def render() -> str:
    """The text of `tickgate/protocol.hpp`; the same text on every run for the same tables."""
    m = _modules()
    sec = m[_SECTIONS]
    banner = [f"// {HEADER_PATH}: generated from protocol/ by protocol/codegen_cpp.py, do not edit.",
              "// Sources: " + ", ".join(f"protocol/{name}.py" for name in _TABLES) + ".", ""]
    kinds = ["", *sec.kind_enum(m["itch_spec"].KINDS), "", ""]
    body = [*sec.itch_section(m["itch_spec"]), *sec.mold_section(m["moldudp64"]), *sec.ouch_section(m["ouch"]),
            *sec.soup_section(m["soupbintcp"]), *sec.events_section(m["events"]),
            *sec.shm_section(m["shm_ring"]), *sec.f2_section(m["f2_map"]), *sec.regs_section(m["registers"]),
            *sec.rules_section(m["rules"]), *sec.net_section(m["net_headers"])]
    return "\n".join(banner) + _INCLUDES + "\n".join(kinds) + _WIRE + "\n" + "\n".join(body)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the header to the path in argv (creating folders; untouched if unchanged), or print it."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: codegen_cpp.py [OUT_PATH]", file=sys.stderr)
        return 2
    text = render()
    if not args:
        sys.stdout.write(text)
        return 0
    out = Path(args[0])
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
