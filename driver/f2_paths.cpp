// F2Device's data path: write-combined stores into the ingress window, the host event ring read without a
// system call, settle (see f2_device.hpp). Opening, closing and registers: f2_device.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "f2_device.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tickgate::driver {

using Kind = DeviceError::Kind;

namespace {

constexpr std::size_t kLine = 64;
constexpr std::size_t kWord = 8;
constexpr std::size_t kEvent = sizeof(events::Event);
static_assert(kEvent == f2::kRecordBytes && f2::kHeadLineBytes == kLine);

/// One whole 64-byte line, aligned at `dst`: four 16-byte stores the write-combining buffer joins into one
/// 64-byte PCIS beat.
inline void store_line(std::byte* dst, const std::byte* src) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  for (std::size_t i = 0; i < kLine; i += 16) {
    _mm_store_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
#else
  for (std::size_t i = 0; i < kLine; i += kWord) {
    std::uint64_t w;
    std::memcpy(&w, src + i, kWord);
    *reinterpret_cast<volatile std::uint64_t*>(dst + i) = w;
  }
#endif
}

/// Orders the line just stored before the next: write-combining buffers may drain in any order (x86 and AMD64
/// promise nothing between lines without a fence), and the window is a FIFO port that takes beats as they
/// come. Without it two lines of a batch could reach the card swapped.
inline void line_fence() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_sfence();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline void store_word(std::byte* dst, const std::byte* src) noexcept {
  std::uint64_t w;
  std::memcpy(&w, src, kWord);
  *reinterpret_cast<volatile std::uint64_t*>(dst) = w;
}

}  // namespace
void F2Device::store(const std::byte* data, std::size_t n) {
  std::size_t done = 0;
  for (; n - done >= kLine; done += kLine) {  // the cursor is at a line boundary: whole lines, in order
    if (done) line_fence();
    store_line(window_ + cursor_, data + done);
    cursor_ = (cursor_ + kLine) % window_len_;
  }
  if (done && done < n) line_fence();
  for (std::size_t at = cursor_; done < n; done += kWord, at += kWord) store_word(window_ + at, data + done);
  if (n % kLine) cursor_ = (cursor_ + kLine) % window_len_;  // the next stores start a new line
  io_->store_fence(n);
}

std::size_t F2Device::fits(std::size_t rest, std::size_t free_lines) noexcept {
  const std::size_t full = rest / kLine;
  const std::size_t tail = rest % kLine / kWord;
  if (full >= free_lines) return free_lines * kLine;
  return full + tail <= free_lines ? rest : full * kLine;
}

std::size_t F2Device::submit(std::span<const std::byte> batch) {
  if (window_ == nullptr) bar();  // closed: kGone
  for (std::size_t pos = 0; pos + mold::DmaHeader::kLength <= batch.size(); ++submitted_) {  // its packets
    const std::size_t end = pos + mold::DmaHeader::kLength + mold::DmaHeader::length(batch.data() + pos);
    pos = (end + mold::kDmaAlign - 1) / mold::kDmaAlign * mold::kDmaAlign;
  }
  if (batch.size() % kWord) throw std::invalid_argument("a DMA batch is whole 8-byte words (protocol.moldudp64.pack_dma)");
  std::size_t off = 0;
  int idle = 0;
  auto last = std::chrono::steady_clock::now();
  while (off < batch.size()) {
    const std::size_t n = fits(batch.size() - off, live(regs::offset::ingress_free) / kLine);
    if (n == 0) {
      if (drain()) {
        last = std::chrono::steady_clock::now();
        idle = 0;
        continue;
      }
      if (std::chrono::steady_clock::now() - last > options_.timeout) {
        timeout("took no bytes for " + std::to_string(options_.timeout.count()) + " ms (ingress_free stayed 0, no "
                "events in the ring; " + std::to_string(off) + " of " + std::to_string(batch.size()) +
                " bytes of the batch stored): the pipeline is stalled; check the control register's enable bit and "
                "the card (fpga-describe-local-image -S " + std::to_string(slot_.index) + " -H)");
      }
      pause(idle);
      continue;
    }
    store(batch.data() + off, n);
    off += n;
    last = std::chrono::steady_clock::now();
    idle = 0;
  }
  return batch.size();
}

std::uint32_t F2Device::producer() {
  const std::uint32_t p = std::atomic_ref<std::uint32_t>(
      *reinterpret_cast<std::uint32_t*>(ring_.head + f2::kHeadProducerOffset)).load(std::memory_order_acquire);
  if (p == last_producer_) return p;
  const auto moved = static_cast<std::int32_t>(p - last_producer_);
  if (moved < 0 || p - consumer_ > records_) {
    const std::string what = moved < 0 ? "moved backwards from " + std::to_string(last_producer_) + " to " +
                                             std::to_string(p)
                                       : "ran to " + std::to_string(p) + ", past the ring (consumer " +
                                             std::to_string(consumer_) + ", " + std::to_string(records_) + " records)";
    throw DeviceError(Kind::kIo, "the card in " + where() + " broke the event ring protocol: its producer index " +
                                     what + "; events read from the ring can no longer be trusted: open the backend "
                                     "again (a ring reset), and check the image");
  }
  last_producer_ = p;
  return p;
}

std::size_t F2Device::take(events::Event* out, std::size_t max) {
  if (ring_.head == nullptr) bar();  // closed: kGone
  const std::size_t k = std::min<std::size_t>(producer() - consumer_, max);
  if (k == 0) return 0;
  const std::size_t at = consumer_ & (records_ - 1);
  const std::size_t first = std::min(k, records_ - at);
  // bytes: the caller's array (numpy) need not have the record's 64-byte alignment
  std::memcpy(static_cast<void*>(out), ring_.ring + at * kEvent, first * kEvent);
  if (k > first) std::memcpy(static_cast<void*>(out + first), ring_.ring, (k - first) * kEvent);
  consumer_ += static_cast<std::uint32_t>(k);
  received_ += k;
  bar_->store(regs::offset::ring_consumer, consumer_);
  return k;
}

bool F2Device::drain() {
  if (ring_.head == nullptr) bar();  // closed: kGone
  const std::size_t ready = producer() - consumer_;
  if (ready == 0) return false;
  if (spill_head_ == spill_.size()) {
    spill_.clear();
    spill_head_ = 0;
  }
  const std::size_t at = spill_.size();
  spill_.resize(at + ready);
  take(spill_.data() + at, ready);
  return true;
}

std::size_t F2Device::collect(std::span<events::Event> out) {
  std::size_t n = std::min(out.size(), spill_.size() - spill_head_);
  if (n) std::memcpy(static_cast<void*>(out.data()), spill_.data() + spill_head_, n * kEvent);
  spill_head_ += n;
  if (n < out.size()) n += take(out.data() + n, out.size() - n);
  return n;
}

std::size_t F2Device::pending() {
  if (ring_.head == nullptr) bar();  // closed: kGone
  return spill_.size() - spill_head_ + (producer() - consumer_);
}

void F2Device::settle() {
  namespace o = regs::offset;
  auto last_change = std::chrono::steady_clock::now();
  std::uint64_t last_count = ~std::uint64_t{0};
  std::uint32_t last_seen = last_producer_;
  for (int idle = 0;;) {
    const std::uint32_t p = producer();
    if (p - consumer_ >= records_ / 2) drain();  // room for the card; a ring under half full is left to collect
    const std::uint64_t count = read_register64(o::packets);
    const std::uint64_t emitted = read_register64(o::events);
    const std::uint64_t arrived = received_ + (p - consumer_) + read_register64(o::pcim_errors);
    if (count >= submitted_ && arrived >= emitted) return;
    if (p != last_seen || count != last_count) {
      last_change = std::chrono::steady_clock::now();
      last_seen = p;
      last_count = count;
      idle = 0;
      continue;
    }
    if (arrived >= emitted && live(o::ingress_free) >= ingress_capacity_) {
      return;  // everything taken, every event arrived, nothing moving: framing lost (see the dma_* counters)
    }
    if (std::chrono::steady_clock::now() - last_change > options_.timeout) {
      timeout("made no progress for " + std::to_string(options_.timeout.count()) + " ms: its packets counter stopped "
              "at " + std::to_string(count) + " of " + std::to_string(submitted_) + " submitted, and " +
              std::to_string(arrived) + " of the " + std::to_string(emitted) + " events it counted reached the "
              "ring (records + pcim_errors)");
    }
    pause(idle);
  }
}

}  // namespace tickgate::driver
