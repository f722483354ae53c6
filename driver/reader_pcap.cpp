// PcapFeed: the MoldUDP64 payloads of a capture as host.feeds.files.PcapFeed yields them, read as
// protocol.pcap.PcapReader reads them (classic pcap and pcapng, the same counters), and classify().
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "reader_feed.hpp"

namespace tickgate::driver {
namespace {

constexpr std::uint32_t kPcapMicroBe = 0xa1b2c3d4, kPcapNanoBe = 0xa1b23c4d;
constexpr std::uint32_t kPcapMicroLe = 0xd4c3b2a1, kPcapNanoLe = 0x4d3cb2a1;
constexpr std::uint32_t kPcapng = 0x0a0d0d0a;  // the section header block's type
constexpr std::uint32_t kIdb = 1, kPb = 2, kSpb = 3, kEpb = 6;
constexpr std::uint16_t kOptTsResol = 9, kOptTsOffset = 14;
constexpr std::int64_t kDltEthernet = 1, kDltLinuxSll = 113;
constexpr std::uint32_t kEthIp = net::kEthertypeIpv4;

std::uint32_t u32(const std::byte* p, bool be) { return be ? wire::read_u32(p) : wire::read_le_u32(p); }
std::uint16_t u16(const std::byte* p, bool be) { return be ? wire::read_u16(p) : wire::read_le_u16(p); }

// The capture reader's VLAN rule (protocol/net_headers.py): these TPIDs at any depth, not the card's.
bool is_vlan(std::uint32_t t) { return std::ranges::find(net::kCaptureVlanTpids, t) != net::kCaptureVlanTpids.end(); }
bool is_raw(std::int64_t l) { return l == 12 || l == 14 || l == 101; }
bool is_null(std::int64_t l) { return l == 0 || l == 108; }

/// SoupBinTCP packet types and the size of the fixed ones (0: variable; -1: not a type).
int soup_size(std::uint8_t kind) {
  switch (kind) {
    case 'H': case 'R': case 'Z': case 'O': return 1;
    case 'J': return 2;
    case 'A': return 31;
    case '+': case 'S': case 'U': case 'L': return 0;
    default: return -1;
  }
}

/// A frame's bytes, indexed as Python indexes them: past the end is an error (IndexError there).
struct Bytes {
  std::span<const std::byte> d;
  bool ok = true;
  std::uint32_t operator[](std::size_t i) {
    if (i >= d.size()) {
      ok = false;
      return 0;
    }
    return std::to_integer<std::uint32_t>(d[i]);
  }
};

}  // namespace

PayloadKind classify(std::span<const std::byte> payload, bool udp) noexcept {
  const std::size_t n = payload.size();
  const auto at = [&](std::size_t i) { return std::to_integer<std::size_t>(payload[i]); };
  if (udp) {
    if (n < mold::kHeaderLength) return PayloadKind::kUnknown;
    const std::size_t count = at(18) << 8 | at(19);
    if (count == 0 || count == mold::kEndOfSession) {
      return n == mold::kHeaderLength ? PayloadKind::kMoldUdp64 : PayloadKind::kUnknown;
    }
    std::size_t pos = mold::kHeaderLength;
    for (std::size_t i = 0; i < count; ++i) {
      if (pos + 1 >= n) return PayloadKind::kUnknown;
      pos += 2 + (at(pos) << 8 | at(pos + 1));
    }
    return pos == n ? PayloadKind::kMoldUdp64 : PayloadKind::kUnknown;
  }
  std::size_t pos = 0;
  while (pos < n) {
    if (pos + 3 > n) return PayloadKind::kUnknown;
    const std::size_t size = at(pos) << 8 | at(pos + 1);
    const int fixed = soup_size(static_cast<std::uint8_t>(at(pos + 2)));
    if (fixed < 0 || (fixed > 0 ? size != static_cast<std::size_t>(fixed) : size < 1)) return PayloadKind::kUnknown;
    pos += 2 + size;
  }
  return pos == n && n ? PayloadKind::kSoupBinTcp : PayloadKind::kUnknown;
}

PcapFeed::PcapFeed(const std::string& path, const FeedOptions& options)
    : src_(path, options.allow_truncated), cur_(src_), port_(options.port) {
  if (cur_.ensure(4) < 4) throw std::invalid_argument("not a pcap or pcapng file (it is shorter than 4 bytes)");
  const std::uint32_t magic = wire::read_u32(cur_.data());
  if (magic == kPcapng) {
    format_ = Format::kPcapng;
    return;
  }
  if (magic != kPcapMicroBe && magic != kPcapNanoBe && magic != kPcapMicroLe && magic != kPcapNanoLe) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", magic);
    throw std::invalid_argument(std::string("not a pcap or pcapng file (magic ") + hex + ")");
  }
  big_endian_ = magic == kPcapMicroBe || magic == kPcapNanoBe;
  tick_ns_ = magic == kPcapNanoBe || magic == kPcapNanoLe ? 1 : 1000;
  if (cur_.ensure(24) < 24) throw std::invalid_argument("pcap file header is cut short");
  linktype_ = u32(cur_.data() + 20, big_endian_) & 0x0FFFFFFF;
  cur_.consume(24);
}

bool PcapFeed::record(Record& r) { return format_ == Format::kClassic ? classic(r) : pcapng(r); }

bool PcapFeed::classic(Record& r) {
  cur_.consume(pending_consume_);  // the record handed out last
  pending_consume_ = 0;
  const std::size_t have = cur_.ensure(16);
  if (have < 16) {
    if (have) ++c_.truncated;
    return false;
  }
  const std::byte* h = cur_.data();
  const std::uint64_t sec = u32(h, big_endian_), frac = u32(h + 4, big_endian_);
  const std::size_t caplen = u32(h + 8, big_endian_);
  if (cur_.ensure(16 + caplen) < 16 + caplen) {
    ++c_.truncated;
    return false;
  }
  r = {sec * 1'000'000'000 + frac * tick_ns_, linktype_, {cur_.data() + 16, caplen}};
  pending_consume_ = 16 + caplen;
  return true;
}

bool PcapFeed::pcapng(Record& r) {
  for (;;) {
    std::size_t have = cur_.ensure(8);
    if (have < 8) {
      if (have) ++c_.truncated;
      return false;
    }
    std::size_t hdr = 8;
    if (wire::read_u32(cur_.data()) == kPcapng) {  // a new section: its byte-order magic sets the byte order
      have = cur_.ensure(12);
      big_endian_ = !(have >= 12 && wire::read_u32(cur_.data() + 8) == 0x4d3c2b1a);
      hdr = std::min<std::size_t>(have, 12);
      ifaces_.clear();
    }
    const std::uint32_t btype = u32(cur_.data(), big_endian_);
    const std::size_t blen = u32(cur_.data() + 4, big_endian_);
    if (blen < 12 || cur_.ensure(blen) < blen) {
      ++c_.truncated;
      return false;
    }
    const std::byte* b = cur_.data();
    const std::span<const std::byte> body{b + hdr, blen - hdr};
    cur_.consume(blen);
    if (btype == kIdb) {
      Iface f{body.size() >= 2 ? u16(body.data(), big_endian_) : -1, 1000, 1, 0};
      std::size_t pos = 16;  // options, up to the trailing block length
      while (pos + 4 <= blen - 4) {
        const std::uint16_t code = u16(b + pos, big_endian_), len = u16(b + pos + 2, big_endian_);
        if (code == 0 || pos + 4 + len > blen - 4) break;
        const std::byte* v = b + pos + 4;
        if (code == kOptTsResol && len >= 1) {
          const unsigned res = std::to_integer<unsigned>(v[0]);
          const unsigned e = res & 0x7F;
          f.mul = 1'000'000'000;
          f.div = 1;
          const unsigned base = res & 0x80 ? 2 : 10;
          bool overflow = false;
          for (unsigned i = 0; i < e && !overflow; ++i) {
            if (f.div > (~static_cast<unsigned __int128>(0)) / base) overflow = true;
            else f.div *= base;
          }
          if (overflow) f.mul = 0;  // a tick finer than 2**-127 s: every time is 0 ns, as in exact arithmetic
        } else if (code == kOptTsOffset && len >= 8) {
          const std::uint64_t raw = big_endian_ ? wire::read_u64(v) : wire::read_le_u64(v);
          f.offset_ns = static_cast<std::int64_t>(raw) * 1'000'000'000;
        }
        pos += 4 + ((len + 3u) & ~3u);
      }
      ifaces_.push_back(f);
      continue;
    }
    if (btype == kEpb || btype == kPb) {
      if (body.size() < 20) {
        ++c_.truncated;  // Python's struct.unpack fails here; a block this short carries no frame
        continue;
      }
      std::size_t iface = btype == kPb ? u16(body.data(), big_endian_) : u32(body.data(), big_endian_);
      const std::uint64_t ts = std::uint64_t{u32(body.data() + 4, big_endian_)} << 32 | u32(body.data() + 8, big_endian_);
      const std::size_t caplen = u32(body.data() + 12, big_endian_);
      const Iface f = iface < ifaces_.size() ? ifaces_[iface] : Iface{-1, 1, 1, 0};
      const auto scaled = static_cast<std::uint64_t>(static_cast<unsigned __int128>(ts) * f.mul / f.div);
      const std::size_t end = std::min(body.size(), 20 + caplen);
      r = {static_cast<std::uint64_t>(f.offset_ns) + scaled, f.linktype, body.subspan(20, end - 20)};
      return true;
    }
    if (btype == kSpb) {
      if (body.size() < 4) {
        ++c_.truncated;
        continue;
      }
      const std::int64_t wirelen = u32(body.data(), big_endian_);
      const std::int64_t stop = 4 + std::min<std::int64_t>(wirelen, static_cast<std::int64_t>(body.size()) - 8);
      const std::size_t n = stop > 4 ? static_cast<std::size_t>(stop - 4) : 0;
      r = {0, ifaces_.empty() ? -1 : ifaces_[0].linktype, body.subspan(4, n)};
      return true;
    }
  }
}

bool PcapFeed::decode(const Record& r, Frame& f) {
  Bytes d{r.data};
  std::uint32_t etype = 0;
  std::size_t off = 0;
  if (r.linktype == kDltEthernet) {
    etype = d[net::kEthTypeAt] << 8 | d[net::kEthTypeAt + 1];
    off = net::kEthHeaderLen;
    while (d.ok && is_vlan(etype)) {
      etype = d[off + 2] << 8 | d[off + 3];
      off += net::kVlanTagLen;
    }
  } else if (is_raw(r.linktype)) {
    etype = (d[0] >> 4) == 4 ? kEthIp : 0;
  } else if (r.linktype == kDltLinuxSll) {
    etype = d[14] << 8 | d[15];
    off = 16;
  } else if (is_null(r.linktype)) {
    etype = (d[0] == 2 || d[3] == 2) ? kEthIp : 0;
    off = 4;
  } else {
    throw UnsupportedLink(r.linktype);
  }
  const bool ipv4 = d.ok && etype == kEthIp && (d[off] >> 4) == 4;
  if (!d.ok) return ++c_.truncated, false;  // Python's IndexError
  if (!ipv4) return ++c_.non_ipv4, false;
  ++c_.ipv4;
  const std::size_t ihl = (d[off] & 0x0F) * 4;
  const std::size_t total = d[off + net::ipv4::total_length] << 8 | d[off + net::ipv4::total_length + 1];
  if (!d.ok) return ++c_.truncated, false;
  const std::size_t end = total ? off + total : r.data.size();
  if (end > r.data.size()) return ++c_.truncated, false;
  const std::uint32_t frag =
      (d[off + net::ipv4::flags_fragment] << 8 | d[off + net::ipv4::flags_fragment + 1]) & net::kIpv4FragmentMask;
  if (!d.ok) return ++c_.truncated, false;
  if (frag) return ++c_.fragments, false;
  const std::uint32_t proto = d[off + net::ipv4::protocol];
  // Python's inet_ntoa raises on an address cut short; a frame that short is counted as truncated here.
  if (!d.ok || r.data.size() < off + net::ipv4::dst + 4) return ++c_.truncated, false;
  const std::size_t l4 = off + ihl;
  f.dport = static_cast<std::uint16_t>(d[l4 + net::udp::dst_port] << 8 | d[l4 + net::udp::dst_port + 1]);
  if (!d.ok) return ++c_.truncated, false;
  if (proto == net::kIpProtoUdp) {
    const std::size_t ulen = d[l4 + net::udp::length] << 8 | d[l4 + net::udp::length + 1];
    if (!d.ok) return ++c_.truncated, false;
    const std::size_t stop = ulen >= net::kUdpHeaderLen ? l4 + ulen : end;
    if (stop > end) return ++c_.truncated, false;
    ++c_.udp;
    const std::size_t from = std::min(l4 + net::kUdpHeaderLen, stop);
    f.udp = true;
    f.payload = r.data.subspan(from, stop - from);
    return true;
  }
  if (proto == net::kIpProtoTcp) {
    ++c_.tcp;
    const std::size_t doff = (d[l4 + 12] >> 4) * 4;
    if (!d.ok) return ++c_.truncated, false;
    const std::size_t from = std::min(l4 + doff, end);
    f.udp = false;
    f.payload = r.data.subspan(from, end - from);
    return true;
  }
  ++c_.other_proto;
  return false;
}

bool PcapFeed::next(PacketRef& p) {
  cur_.consume(pending_consume_);
  pending_consume_ = 0;
  Record r{};
  while (!done_ && record(r)) {
    ++c_.frames;
    Frame f;
    if (!decode(r, f)) continue;
    const PayloadKind kind = classify(f.payload, f.udp);
    if (kind == PayloadKind::kSoupBinTcp) {
      ++c_.soupbintcp;
    } else if (kind == PayloadKind::kUnknown) {
      ++c_.unknown;
    } else if (port_ && f.dport != *port_) {
      ++c_.other_port;
    } else {
      ++c_.moldudp64;
      const std::size_t count = wire::read_u16(f.payload.data() + mold::Header::Offset::message_count);
      if (count != 0 && count != mold::kEndOfSession) {
        scan_directory(f.payload.data() + mold::kHeaderLength, f.payload.size() - mold::kHeaderLength, count);
      }
      p.head = {};
      p.body = f.payload;
      p.rx_ns = r.ts_ns;
      return true;
    }
  }
  done_ = true;
  return false;
}

std::pair<std::uint64_t, std::uint64_t> PcapFeed::position() const {
  return {src_.raw_bytes_read(), src_.total_bytes()};
}

Stats PcapFeed::stats() const {
  const Counters& c = c_;
  return {{"pcap_frames", c.frames},
          {"pcap_udp", c.udp},
          {"pcap_tcp", c.tcp},
          {"pcap_moldudp64", c.moldudp64},
          {"pcap_soupbintcp", c.soupbintcp},
          {"pcap_other_port", c.other_port},
          {"pcap_unknown_payload", c.unknown},
          {"pcap_fragments", c.fragments},
          {"pcap_truncated", c.truncated},
          {"pcap_skipped", c.non_ipv4 + c.other_proto + c.fragments + c.truncated}};
}

std::unique_ptr<PacketFeed> open_packet_feed(const std::string& path, const FeedOptions& options) {
  bool capture = false;
  {
    ByteSource src(path, true);
    std::array<std::byte, 4> head{};
    std::size_t got = 0;
    while (got < head.size()) {
      const std::size_t n = src.read(head.data() + got, head.size() - got);
      if (n == 0) break;
      got += n;
    }
    if (got == 4) {
      const std::uint32_t m = wire::read_u32(head.data());
      capture = m == kPcapMicroBe || m == kPcapNanoBe || m == kPcapMicroLe || m == kPcapNanoLe || m == kPcapng;
    }
  }
  if (capture) return std::make_unique<PcapFeed>(path, options);
  return std::make_unique<BinaryFileFeed>(path, options);
}

}  // namespace tickgate::driver
