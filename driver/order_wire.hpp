// The native order path's wire: OUCH 5.0 Enter, Replace and Cancel encoded through the generated layouts
// (tickgate/protocol.hpp, from protocol/ouch.py and protocol/soupbintcp.py), framed as SoupBinTCP unsequenced
// packets, and written in order on the session's non-blocking TCP socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tickgate/protocol.hpp"

namespace tickgate::driver::orders {

/// Fixed fields of every Enter Order, as OuchGateway sends them; `appendage` is the TLV options (firm).
struct EnterDefaults {
  char display = 'Y';
  char capacity = 'A';
  std::string appendage;
};

/// OUCH messages in SoupBinTCP unsequenced packets, built in place in buffers of their own.
class OuchEncoder {
 public:
  explicit OuchEncoder(EnterDefaults defaults);

  std::span<const std::byte> enter(std::uint32_t token, char side, std::uint32_t shares, std::string_view symbol,
                                   std::uint64_t price, char tif);
  std::span<const std::byte> cancel(std::uint32_t token, std::uint32_t shares);
  std::span<const std::byte> replace(std::uint32_t orig, std::uint32_t token, std::uint32_t shares,
                                     std::uint64_t price, char tif);

 private:
  std::vector<std::byte> enter_, cancel_, replace_;
};

/// Ordered writes of whole packets on a non-blocking socket it does not own: what the socket does not take
/// now is queued and goes first next time, so packets never interleave. A failed write detaches it.
class SoupWriter {
 public:
  /// A new connection: what was queued for the last one is dropped.
  void attach(int fd);
  void detach() noexcept { fd_ = -1; }
  int fd() const noexcept { return fd_; }
  /// Write (or queue the rest of) one packet; false if the link is gone.
  bool write(std::span<const std::byte> packet);
  /// Write what is queued; false if the link is gone.
  bool flush();
  std::size_t pending() const noexcept { return out_.size() - out_pos_; }

  std::uint64_t packets = 0, bytes = 0, partial_writes = 0, would_block = 0, errors = 0;
  int last_errno = 0;

 private:
  bool fail(int err);
  int fd_ = -1;
  std::vector<std::byte> out_;
  std::size_t out_pos_ = 0;
};

}  // namespace tickgate::driver::orders
