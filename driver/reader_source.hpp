// The bytes of a feed file, decoded: plain, or gzip through zlib (members one after another, as Python's gzip
// reads them), behind one buffered cursor that the file readers walk.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tickgate::driver {

/// A gzip stream cut before its end (a partial download), read without allow_truncated: the message is
/// protocol.binaryfile.TruncatedFileError's, and the binding raises that class.
class TruncatedInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file's decoded bytes, read forward in bounded memory. A gzip stream cut short (a partial download)
/// throws TruncatedInput at the cut, unless `allow_truncated`: then it ends where it was cut
/// (`gzip_incomplete`). Corrupt gzip data, or something after a member that is neither zero padding nor
/// another member, throws std::runtime_error. Not copyable.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path, bool allow_truncated = false);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  /// Up to `n` decoded bytes into `dst`; fewer only at the end of the data; 0 at the end.
  std::size_t read(std::byte* dst, std::size_t n);

  bool is_gzip() const noexcept { return gzip_; }
  bool gzip_incomplete() const noexcept { return incomplete_; }
  std::uint64_t total_bytes() const noexcept { return total_; }  // size on disk
  std::uint64_t raw_bytes_read() const noexcept { return raw_read_; }  // bytes consumed from the disk
  std::uint64_t bytes_read() const noexcept { return decoded_; }  // decoded bytes handed out
  const std::string& path() const noexcept { return path_; }

 private:
  std::size_t read_raw(std::byte* dst, std::size_t n);
  bool fill_input();
  std::size_t inflate_into(std::byte* dst, std::size_t n);
  void cut(std::size_t decoded_now);

  enum class State { kMember, kBetween, kEnd };
  std::string path_;
  int fd_ = -1;
  bool gzip_ = false;
  bool allow_truncated_ = false;
  bool incomplete_ = false;
  bool raw_eof_ = false;
  std::uint64_t total_ = 0;
  std::uint64_t raw_read_ = 0;
  std::uint64_t decoded_ = 0;
  State state_ = State::kMember;
  std::vector<std::byte> in_;  // compressed input (gzip), or the bytes read to sniff the magic (plain)
  std::size_t in_pos_ = 0, in_end_ = 0;
  std::unique_ptr<z_stream> z_;
};

/// A window over a ByteSource: `ensure(k)` makes the k bytes from the cursor contiguous in memory (fewer only
/// at the end of the data), `consume(k)` moves the cursor. The window grows only as far as a caller asks.
class Cursor {
 public:
  explicit Cursor(ByteSource& src, std::size_t chunk = std::size_t{1} << 20) : src_(src), chunk_(chunk) {}

  /// Bytes available from the cursor after making `k` available if the data has them.
  std::size_t ensure(std::size_t k);
  const std::byte* data() const noexcept { return buf_.data() + pos_; }
  std::size_t available() const noexcept { return end_ - pos_; }
  void consume(std::size_t k) noexcept { pos_ += k; }
  bool at_end() { return ensure(1) == 0; }

 private:
  ByteSource& src_;
  std::size_t chunk_;
  std::vector<std::byte> buf_;
  std::size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
};

}  // namespace tickgate::driver
