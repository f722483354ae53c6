// File feeds in C++: MoldUDP64 packets from a BinaryFILE (plain or gzip) or from a pcap/pcapng capture, packed
// exactly as the Python reference packs them (host/feeds/files.py, protocol/binaryfile.py, protocol/pcap.py),
// with the same counters under the same names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "reader_source.hpp"
#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// One packet, valid until the feed's next call: `head` then `body` are the MoldUDP64 packet's bytes.
struct PacketRef {
  std::span<const std::byte> head;
  std::span<const std::byte> body;
  std::uint64_t rx_ns = 0;
  std::size_t size() const noexcept { return head.size() + body.size(); }
};

using Stats = std::vector<std::pair<std::string, std::uint64_t>>;

/// A source of MoldUDP64 packets with counters. It also keeps the Stock Directory (locate -> symbol) of the
/// messages it passes, for decoding events later.
class PacketFeed {
 public:
  virtual ~PacketFeed() = default;
  /// The next packet into `p`; false at the end.
  virtual bool next(PacketRef& p) = 0;
  /// The counters, named as the Python feed's stats() names them, in that order.
  virtual Stats stats() const = 0;
  /// Bytes of the file consumed so far, and its size (for a progress bar).
  virtual std::pair<std::uint64_t, std::uint64_t> position() const = 0;

  /// Symbols by stock locate from the Stock Directory messages seen ('R'; empty where none).
  const std::vector<std::array<char, 8>>& directory() const noexcept { return directory_; }

 protected:
  /// Records the Stock Directory messages among the blocks of a MoldUDP64 body (`count` messages).
  void scan_directory(const std::byte* blocks, std::size_t size, std::size_t count);

 private:
  std::vector<std::array<char, 8>> directory_;
};

/// Options of the file feeds, as BinaryFileFeed and PcapFeed take them.
struct FeedOptions {
  std::array<char, 10> session{'T', 'I', 'C', 'K', 'G', 'A', 'T', 'E', '0', '1'};
  std::size_t max_payload = 1400;
  std::optional<std::uint16_t> port;  // pcap: only MoldUDP64 to this UDP port
  bool allow_truncated = false;  // a gzip stream cut short ends at the cut instead of throwing TruncatedInput
};

/// A capture record of a link type the reader does not decode (protocol.pcap.UnsupportedLinkType, which the
/// binding raises with that module's wording).
class UnsupportedLink : public std::runtime_error {
 public:
  explicit UnsupportedLink(std::int64_t linktype)
      : std::runtime_error("capture link type " + std::to_string(linktype) + " is not read"), linktype_(linktype) {}
  std::int64_t linktype() const noexcept { return linktype_; }

 private:
  std::int64_t linktype_;
};

/// A BinaryFILE's messages in MoldUDP64 packets of at most max_payload bytes, numbered from 1; a file that
/// ends with the zero-length marker ends with an end-of-session packet.
class BinaryFileFeed final : public PacketFeed {
 public:
  BinaryFileFeed(const std::string& path, const FeedOptions& options);
  bool next(PacketRef& p) override;
  Stats stats() const override;
  std::pair<std::uint64_t, std::uint64_t> position() const override;

 private:
  ByteSource src_;
  Cursor cur_;
  std::array<char, 10> session_;
  std::size_t room_;
  std::array<std::byte, mold::Header::kLength> header_{};
  std::uint64_t seq_ = 1;
  std::uint64_t messages_ = 0, truncated_ = 0, packets_ = 0;
  std::size_t pending_consume_ = 0;
  bool done_ = false, end_of_session_ = false, eos_sent_ = false;
};

/// The MoldUDP64 UDP payloads of a classic pcap or pcapng capture (Ethernet, 802.1Q/QinQ, raw IP, Linux SLL,
/// BSD loopback), in file order, rx_ns the capture time. A record of another link type throws UnsupportedLink.
class PcapFeed final : public PacketFeed {
 public:
  PcapFeed(const std::string& path, const FeedOptions& options);
  bool next(PacketRef& p) override;
  Stats stats() const override;
  std::pair<std::uint64_t, std::uint64_t> position() const override;

  struct Counters {
    std::uint64_t frames = 0, ipv4 = 0, udp = 0, tcp = 0, non_ipv4 = 0, other_proto = 0, fragments = 0,
                  truncated = 0, moldudp64 = 0, soupbintcp = 0, other_port = 0, unknown = 0;
  };

 private:
  struct Record {
    std::uint64_t ts_ns;
    std::int64_t linktype;
    std::span<const std::byte> data;
  };
  struct Iface {
    std::int64_t linktype;
    unsigned __int128 mul, div;
    std::int64_t offset_ns;
  };
  struct Frame {
    bool udp = false;
    std::uint16_t dport = 0;
    std::span<const std::byte> payload;
  };
  bool record(Record& r);
  bool classic(Record& r);
  bool pcapng(Record& r);
  /// The UDP or TCP payload of an IPv4 record, or false (counted as protocol.pcap.PcapReader counts it).
  bool decode(const Record& r, Frame& f);

  ByteSource src_;
  Cursor cur_;
  std::optional<std::uint16_t> port_;
  Counters c_;
  enum class Format { kClassic, kPcapng } format_ = Format::kClassic;
  bool big_endian_ = false;
  std::uint64_t tick_ns_ = 1000;
  std::int64_t linktype_ = 0;
  std::vector<Iface> ifaces_;
  std::size_t pending_consume_ = 0;
  bool done_ = false;
};

/// The feed for a file, as host.feeds.open_feed picks it: a capture by its magic (gzip allowed), else a
/// BinaryFILE.
std::unique_ptr<PacketFeed> open_packet_feed(const std::string& path, const FeedOptions& options);

/// MoldUDP64 payload kinds, as protocol.pcap.classify tells them.
enum class PayloadKind { kMoldUdp64, kSoupBinTcp, kUnknown };
PayloadKind classify(std::span<const std::byte> payload, bool udp) noexcept;

}  // namespace tickgate::driver
