// ByteSource (plain or gzip through zlib's inflate) and Cursor.
#include "reader_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tickgate::driver {
namespace {

constexpr std::size_t kInputChunk = std::size_t{1} << 18;
constexpr std::byte kGzip0{0x1f}, kGzip1{0x8b};

}  // namespace

ByteSource::ByteSource(const std::string& path, bool allow_truncated)
    : path_(path), allow_truncated_(allow_truncated), in_(kInputChunk) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), path);
  struct stat st {};
  if (::fstat(fd_, &st) == 0) total_ = static_cast<std::uint64_t>(st.st_size);
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  // The magic decides: two bytes 1f 8b are gzip, anything else is read as it is.
  while (in_end_ < 2 && fill_input()) {
  }
  gzip_ = in_end_ >= 2 && in_[0] == kGzip0 && in_[1] == kGzip1;
  if (gzip_) {
    z_ = std::make_unique<z_stream>();
    std::memset(z_.get(), 0, sizeof(z_stream));
    if (inflateInit2(z_.get(), 16 + MAX_WBITS) != Z_OK) {
      ::close(fd_);
      throw std::runtime_error(path + ": zlib could not be initialised");
    }
  }
}

ByteSource::~ByteSource() {
  if (z_) inflateEnd(z_.get());
  if (fd_ >= 0) ::close(fd_);
}

std::size_t ByteSource::read_raw(std::byte* dst, std::size_t n) {
  std::size_t got = 0;
  while (got < n && !raw_eof_) {
    const ssize_t r = ::read(fd_, dst + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), path_);
    }
    if (r == 0) raw_eof_ = true;
    got += static_cast<std::size_t>(r);
    raw_read_ += static_cast<std::uint64_t>(r);
  }
  return got;
}

/// Refills the input buffer (keeping what is left of it); false at the end of the file.
bool ByteSource::fill_input() {
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  if (raw_eof_ || in_end_ == in_.size()) return false;
  const std::size_t got = read_raw(in_.data() + in_end_, in_.size() - in_end_);
  in_end_ += got;
  return got > 0;
}

std::size_t ByteSource::read(std::byte* dst, std::size_t n) {
  std::size_t got = 0;
  if (!gzip_) {
    const std::size_t head = std::min(n, in_end_ - in_pos_);  // the bytes read to sniff the magic
    std::memcpy(dst, in_.data() + in_pos_, head);
    in_pos_ += head;
    got = head + read_raw(dst + head, n - head);
  } else {
    got = inflate_into(dst, n);
  }
  decoded_ += got;
  return got;
}

std::size_t ByteSource::inflate_into(std::byte* dst, std::size_t n) {
  std::size_t out = 0;
  z_stream& z = *z_;
  while (out < n && state_ != State::kEnd) {
    if (state_ == State::kBetween) {
      // Python's gzip: zero padding after a member is skipped; then either the end, or another member.
      while (true) {
        while (in_pos_ < in_end_ && in_[in_pos_] == std::byte{0}) ++in_pos_;
        if (in_pos_ < in_end_ || !fill_input()) break;
      }
      if (in_pos_ == in_end_) {
        state_ = State::kEnd;
        break;
      }
      if (in_end_ - in_pos_ < 2) fill_input();
      if (in_end_ - in_pos_ < 2 || in_[in_pos_] != kGzip0 || in_[in_pos_ + 1] != kGzip1) {
        throw std::runtime_error(path_ + ": not a gzipped file after a gzip member");
      }
      inflateReset(&z);
      state_ = State::kMember;
    }
    if (in_pos_ == in_end_ && !fill_input()) {
      cut(out);  // the file ends inside a member: keep what was decoded, then end
      break;
    }
    z.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
    z.avail_in = static_cast<uInt>(in_end_ - in_pos_);
    z.next_out = reinterpret_cast<Bytef*>(dst + out);
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(n - out, 1u << 30));
    const int rc = inflate(&z, Z_NO_FLUSH);
    out = static_cast<std::size_t>(reinterpret_cast<std::byte*>(z.next_out) - dst);
    in_pos_ = static_cast<std::size_t>(reinterpret_cast<std::byte*>(z.next_in) - in_.data());
    if (rc == Z_STREAM_END) {
      state_ = State::kBetween;
    } else if (rc == Z_BUF_ERROR) {
      if (z.avail_out != 0 && in_pos_ == in_end_ && !fill_input()) cut(out);
    } else if (rc != Z_OK) {
      throw std::runtime_error(path_ + ": gzip data is corrupt (" + (z.msg ? z.msg : "zlib error") + ")");
    }
  }
  return out;
}

/// The end of a gzip member cut short, `decoded_now` bytes into the current read: the end of the data if
/// truncation is allowed, else TruncatedInput (worded as protocol.binaryfile's TruncatedFileError).
void ByteSource::cut(std::size_t decoded_now) {
  incomplete_ = true;
  state_ = State::kEnd;
  if (allow_truncated_) return;
  std::string n = std::to_string(decoded_ + decoded_now);
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(n.size()) - 3; i > 0; i -= 3) n.insert(i, ",");
  throw TruncatedInput(path_ + ": the gzip stream is cut short after " + n +
                       " decoded bytes (a partial download?); allow_truncated (--allow-truncated) reads it up to "
                       "the cut");
}

std::size_t Cursor::ensure(std::size_t k) {
  if (end_ - pos_ >= k || eof_) return end_ - pos_;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ < k && !eof_) {
    const std::size_t want = std::max(k - end_, chunk_);
    if (buf_.size() < end_ + want) buf_.resize(end_ + want);
    const std::size_t got = src_.read(buf_.data() + end_, want);
    if (got == 0) eof_ = true;
    end_ += got;
  }
  return end_ - pos_;
}

}  // namespace tickgate::driver
