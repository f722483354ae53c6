// OUCH 5.0 in SoupBinTCP, and the ordered non-blocking writer (see order_wire.hpp).
#include "order_wire.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace tickgate::driver::orders {
namespace {

using ouch::CancelOrder;
using ouch::EnterOrder;
using ouch::ReplaceOrder;
using soup::Header;

constexpr std::size_t kHead = soup::kHeaderLength;

/// A buffer of a SoupBinTCP unsequenced packet holding `length` bytes of payload, header written.
std::vector<std::byte> packet(std::size_t length) {
  if (length + 1 > soup::kMaxPacket) throw std::invalid_argument("OUCH message longer than a SoupBinTCP packet");
  std::vector<std::byte> buf(kHead + length);
  Header::put_packet_length(buf.data(), static_cast<std::uint16_t>(length + 1));
  Header::put_packet_type(buf.data(), soup::type::UnsequencedData);
  return buf;
}

/// cl_ord_id: the token in decimal, as OuchGateway writes str(token).
void put_token_text(std::byte* field, std::size_t width, std::uint32_t token) {
  char text[16];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, token);
  wire::write_alpha(field, width, std::string_view(text, static_cast<std::size_t>(end - text)));
}

}  // namespace

OuchEncoder::OuchEncoder(EnterDefaults defaults)
    : enter_(packet(EnterOrder::kLength + defaults.appendage.size())),
      cancel_(packet(CancelOrder::kLength)),
      replace_(packet(ReplaceOrder::kLength)) {
  std::byte* e = enter_.data() + kHead;
  EnterOrder::put_message_type(e, EnterOrder::kType);
  EnterOrder::put_display(e, defaults.display);
  EnterOrder::put_capacity(e, defaults.capacity);
  EnterOrder::put_intermarket_sweep(e, 'N');
  EnterOrder::put_cross_type(e, 'N');
  EnterOrder::put_appendage_length(e, static_cast<std::uint16_t>(defaults.appendage.size()));
  std::memcpy(e + EnterOrder::kLength, defaults.appendage.data(), defaults.appendage.size());
  CancelOrder::put_message_type(cancel_.data() + kHead, CancelOrder::kType);
  std::byte* r = replace_.data() + kHead;
  ReplaceOrder::put_message_type(r, ReplaceOrder::kType);
  ReplaceOrder::put_display(r, 'Y');
  ReplaceOrder::put_intermarket_sweep(r, 'N');
  ReplaceOrder::put_appendage_length(r, 0);
}

std::span<const std::byte> OuchEncoder::enter(std::uint32_t token, char side, std::uint32_t shares,
                                              std::string_view symbol, std::uint64_t price, char tif) {
  std::byte* e = enter_.data() + kHead;
  EnterOrder::put_user_ref_num(e, token);
  EnterOrder::put_side(e, side);
  EnterOrder::put_quantity(e, shares);
  EnterOrder::put_symbol(e, symbol);
  EnterOrder::put_price(e, price);
  EnterOrder::put_time_in_force(e, tif);
  put_token_text(e + EnterOrder::Offset::cl_ord_id, EnterOrder::Width::cl_ord_id, token);
  return enter_;
}

std::span<const std::byte> OuchEncoder::cancel(std::uint32_t token, std::uint32_t shares) {
  std::byte* c = cancel_.data() + kHead;
  CancelOrder::put_user_ref_num(c, token);
  CancelOrder::put_quantity(c, shares);
  return cancel_;
}

std::span<const std::byte> OuchEncoder::replace(std::uint32_t orig, std::uint32_t token, std::uint32_t shares,
                                                std::uint64_t price, char tif) {
  std::byte* r = replace_.data() + kHead;
  ReplaceOrder::put_orig_user_ref_num(r, orig);
  ReplaceOrder::put_user_ref_num(r, token);
  ReplaceOrder::put_quantity(r, shares);
  ReplaceOrder::put_price(r, price);
  ReplaceOrder::put_time_in_force(r, tif);
  put_token_text(r + ReplaceOrder::Offset::cl_ord_id, ReplaceOrder::Width::cl_ord_id, token);
  return replace_;
}

void SoupWriter::attach(int fd) {
  fd_ = fd;
  out_.clear();
  out_pos_ = 0;
}

bool SoupWriter::fail(int err) {
  ++errors;
  last_errno = err;
  fd_ = -1;
  out_.clear();
  out_pos_ = 0;
  return false;
}

bool SoupWriter::write(std::span<const std::byte> packet) {
  if (fd_ < 0) return fail(ENOTCONN);
  ++packets;
  bytes += packet.size();
  if (pending()) {
    out_.insert(out_.end(), packet.begin(), packet.end());
    return flush();
  }
  ssize_t n;
  do {
    n = ::send(fd_, packet.data(), packet.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno);
    ++would_block;
    n = 0;
  }
  const auto sent = static_cast<std::size_t>(n);
  if (sent < packet.size()) {
    if (sent) ++partial_writes;
    out_.assign(packet.begin() + static_cast<std::ptrdiff_t>(sent), packet.end());
    out_pos_ = 0;
  }
  return true;
}

bool SoupWriter::flush() {
  if (fd_ < 0) return fail(ENOTCONN);
  while (pending()) {
    const ssize_t n = ::send(fd_, out_.data() + out_pos_, pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ++would_block;
        return true;
      }
      return fail(errno);
    }
    out_pos_ += static_cast<std::size_t>(n);
  }
  out_.clear();
  out_pos_ = 0;
  return true;
}

}  // namespace tickgate::driver::orders
