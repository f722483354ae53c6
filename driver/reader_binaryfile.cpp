// BinaryFileFeed: a BinaryFILE packed into MoldUDP64 packets as host.feeds.files.BinaryFileFeed packs it
// (BinaryFileReader.runs: whole runs of length-prefixed messages behind a header, unsplit), and the Stock
// Directory scan every feed shares.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "reader_feed.hpp"

namespace tickgate::driver {

using wire::read_u16;

void PacketFeed::scan_directory(const std::byte* blocks, std::size_t size, std::size_t count) {
  using R = itch::StockDirectory;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count && pos + mold::kBlockLength <= size; ++i) {
    const std::size_t n = read_u16(blocks + pos);
    const std::byte* m = blocks + pos + mold::kBlockLength;
    pos += mold::kBlockLength + n;
    if (pos > size) return;
    if (n >= R::kLength && wire::read_char(m) == R::kType) {
      const std::uint16_t locate = R::stock_locate(m);
      if (directory_.size() <= locate) directory_.resize(std::size_t{locate} + 1, std::array<char, 8>{});
      std::memcpy(directory_[locate].data(), m + R::Offset::stock, R::Width::stock);
    }
  }
}

BinaryFileFeed::BinaryFileFeed(const std::string& path, const FeedOptions& options)
    : src_(path, options.allow_truncated),
      cur_(src_),
      session_(options.session),
      room_(options.max_payload - mold::kHeaderLength) {
  if (options.max_payload < mold::kHeaderLength + 3 || options.max_payload > 65507) {
    throw std::invalid_argument("max_payload must be 23..65507, got " + std::to_string(options.max_payload));
  }
  mold::Header::put_session(header_.data(), std::string_view(session_.data(), session_.size()));
}

bool BinaryFileFeed::next(PacketRef& p) {
  cur_.consume(pending_consume_);
  pending_consume_ = 0;
  std::size_t pos = 0, count = 0;  // walked bytes of the run from the cursor, and its messages
  while (!done_) {
    if (cur_.ensure(pos + 2) < pos + 2) {
      truncated_ = cur_.available() - pos;
      done_ = true;
      break;
    }
    const std::size_t n = read_u16(cur_.data() + pos);
    if (n == 0) {
      end_of_session_ = done_ = true;
      break;
    }
    const std::size_t next = pos + 2 + n;
    if (next > room_ && count > 0) break;  // the run is full: this message starts the next one
    if (cur_.ensure(next) < next) {
      truncated_ = cur_.available() - pos;
      done_ = true;
      break;
    }
    if (next > room_) {
      throw std::invalid_argument("a BinaryFILE message of " + std::to_string(n) + " bytes exceeds " +
                                  std::to_string(room_ - 2));
    }
    ++count;
    pos = next;
  }
  if (count > 0) {
    mold::Header::put_sequence_number(header_.data(), seq_);
    mold::Header::put_message_count(header_.data(), static_cast<std::uint16_t>(count));
    p.head = header_;
    p.body = {cur_.data(), pos};
    p.rx_ns = 0;
    scan_directory(cur_.data(), pos, count);
    pending_consume_ = pos;
    seq_ += count;
    messages_ += count;
    ++packets_;
    return true;
  }
  if (end_of_session_ && !eos_sent_) {
    eos_sent_ = true;
    mold::Header::put_sequence_number(header_.data(), seq_);
    mold::Header::put_message_count(header_.data(), mold::kEndOfSession);
    p.head = header_;
    p.body = {};
    p.rx_ns = 0;
    ++packets_;
    return true;
  }
  return false;
}

std::pair<std::uint64_t, std::uint64_t> BinaryFileFeed::position() const {
  return {src_.raw_bytes_read(), src_.total_bytes()};
}

Stats BinaryFileFeed::stats() const {
  // As the Python reader reports once its file is closed: all of the file read if any of it was decoded.
  const std::uint64_t total = src_.total_bytes();
  const std::uint64_t raw = done_ ? (src_.bytes_read() ? total : 0) : src_.raw_bytes_read();
  const std::uint64_t permille = total ? std::min<std::uint64_t>(1000, raw * 1000 / total) : 0;
  return {{"file_messages", messages_},
          {"file_truncated_bytes", truncated_},
          {"file_end_of_session", end_of_session_ ? 1u : 0u},
          {"file_bytes_read", raw},
          {"file_total_bytes", total},
          {"file_progress_permille", permille},
          {"feed_packets", packets_},
          {"file_gzip_incomplete", src_.gzip_incomplete() ? 1u : 0u}};
}

}  // namespace tickgate::driver
