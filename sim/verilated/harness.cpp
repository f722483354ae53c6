// The pipeline RTL (hdl/pipeline.py, input "dma"), Verilated as Vtop, driven from a C++ loop, behind a C ABI.
//
// One cycle: inputs are set with the clock low and evaluated (combinational outputs settle), the handshakes
// are sampled (a transfer is valid && ready), then the rising edge is evaluated. `tg_feed` pushes 64-bit
// dma_in words (the bytes of protocol.moldudp64.pack_dma, little-endian) with valid high whenever a word is
// left, keeps events.ready high and keeps every event; after the last word it runs until nothing has
// happened for `quiet` cycles (no event out, no counter changed). Events wait in an internal buffer until
// `tg_take_events` copies them out (one memcpy into the caller's array).
// Verilator spells the double underscore of Amaranth's port names (`dma_in__valid`) as `___05F`.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

#define TG_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kAbiVersion = 1;
constexpr std::size_t kEventBytes = 64;
constexpr std::size_t kCounterBytes = sizeof(std::declval<Vtop&>().counters);
constexpr std::size_t kCounterWords = kCounterBytes / sizeof(std::uint64_t);
static_assert(sizeof(std::declval<Vtop&>().events___05Fpayload) == kEventBytes, "events are 512-bit records");
static_assert(kCounterBytes % sizeof(std::uint64_t) == 0, "counters are 64-bit each");

//: Cycles an AXI-Lite transaction or a stalled input may take before the call gives up.
constexpr std::uint64_t kRegisterTimeout = 1000;
constexpr std::uint64_t kStallTimeout = 1u << 22;

class Sim {
public:
    explicit Sim(std::uint32_t quiet) : ctx_(std::make_unique<VerilatedContext>()), quiet_(quiet) {
        ctx_->threads(1);
        top_ = std::make_unique<Vtop>(ctx_.get(), "top");
        top_->clk = 0;
        top_->rst = 0;
        top_->dma_status = 0;
        top_->events___05Fready = 1;
        top_->eval();  // once with the clock low before the first edge
        reset();
    }

    ~Sim() { top_->final(); }

    void reset() {
        top_->rst = 1;
        for (int i = 0; i < 4; ++i) edge();
        top_->rst = 0;
        top_->eval();
    }

    // AXI-Lite write: AW and W together, then the response. Returns bresp (0 OKAY), or -1 on a timeout.
    int write_reg(std::uint32_t addr, std::uint32_t value) {
        top_->csr___05Fawaddr = addr;
        top_->csr___05Fwdata = value;
        top_->csr___05Fwstrb = 0xF;
        top_->csr___05Fawvalid = 1;
        top_->csr___05Fwvalid = 1;
        top_->csr___05Fbready = 1;
        int resp = -1;
        for (std::uint64_t n = 0; n < kRegisterTimeout && resp < 0; ++n) {
            top_->eval();
            bool aw = top_->csr___05Fawvalid && top_->csr___05Fawready;
            bool w = top_->csr___05Fwvalid && top_->csr___05Fwready;
            if (top_->csr___05Fbvalid) resp = top_->csr___05Fbresp;
            capture();
            edge();
            if (aw) top_->csr___05Fawvalid = 0;
            if (w) top_->csr___05Fwvalid = 0;
        }
        top_->csr___05Fawvalid = 0;
        top_->csr___05Fwvalid = 0;
        top_->csr___05Fbready = 0;
        top_->eval();
        return resp;
    }

    // AXI-Lite read. Returns rresp (0 OKAY) with the data in *out, or -1 on a timeout.
    int read_reg(std::uint32_t addr, std::uint32_t* out) {
        top_->csr___05Faraddr = addr;
        top_->csr___05Farvalid = 1;
        top_->csr___05Frready = 1;
        int resp = -1;
        for (std::uint64_t n = 0; n < kRegisterTimeout && resp < 0; ++n) {
            top_->eval();
            bool ar = top_->csr___05Farvalid && top_->csr___05Farready;
            if (top_->csr___05Frvalid) {
                resp = top_->csr___05Frresp;
                *out = top_->csr___05Frdata;
            }
            capture();
            edge();
            if (ar) top_->csr___05Farvalid = 0;
        }
        top_->csr___05Farvalid = 0;
        top_->csr___05Frready = 0;
        top_->eval();
        return resp;
    }

    // Push `n` words, then run until quiet. Returns the cycles taken, or -1 if the input stalled for good.
    std::int64_t feed(const std::uint8_t* bytes, std::size_t n) {
        const std::uint64_t start = cycles_;
        std::size_t i = 0;
        std::uint64_t stalled = 0;
        while (i < n) {
            std::uint64_t word;
            std::memcpy(&word, bytes + i * sizeof word, sizeof word);
            top_->dma_in___05Fpayload = word;
            top_->dma_in___05Fvalid = 1;
            top_->eval();
            if (top_->dma_in___05Fready) {
                ++i;
                stalled = 0;
            } else if (++stalled > kStallTimeout) {
                top_->dma_in___05Fvalid = 0;
                top_->eval();
                return -1;
            }
            capture();
            edge();
        }
        top_->dma_in___05Fvalid = 0;
        settle();
        return static_cast<std::int64_t>(cycles_ - start);
    }

    // Run until nothing happened for `quiet_` cycles.
    void settle() {
        std::vector<std::uint8_t> seen(kCounterBytes);
        std::memcpy(seen.data(), top_->counters.data(), kCounterBytes);
        std::uint32_t idle = 0;
        while (idle < quiet_) {
            top_->eval();
            if (capture()) {
                idle = 0;
            } else if ((++idle & 15) == 0 && std::memcmp(seen.data(), top_->counters.data(), kCounterBytes) != 0) {
                std::memcpy(seen.data(), top_->counters.data(), kCounterBytes);
                idle = 0;
            }
            edge();
        }
        top_->eval();
    }

    std::size_t pending() const { return (events_.size() - read_) / kEventBytes; }

    std::size_t take(std::uint8_t* out, std::size_t max) {
        std::size_t n = std::min(max, pending());
        if (n) std::memcpy(out, events_.data() + read_, n * kEventBytes);
        read_ += n * kEventBytes;
        if (read_ == events_.size()) {
            events_.clear();
            read_ = 0;
        }
        return n;
    }

    void counters(std::uint64_t* out) const { std::memcpy(out, top_->counters.data(), kCounterBytes); }
    std::uint64_t cycles() const { return cycles_; }
    void set_quiet(std::uint32_t quiet) { quiet_ = quiet; }

private:
    // With inputs evaluated: keep the event on the output if there is one (events.ready is always high).
    bool capture() {
        if (!top_->events___05Fvalid) return false;
        std::size_t at = events_.size();
        events_.resize(at + kEventBytes);
        std::memcpy(events_.data() + at, top_->events___05Fpayload.data(), kEventBytes);
        return true;
    }

    void edge() {
        top_->clk = 1;
        top_->eval();
        top_->clk = 0;
        ++cycles_;
    }

    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vtop> top_;
    std::vector<std::uint8_t> events_;
    std::size_t read_ = 0;
    std::uint64_t cycles_ = 0;
    std::uint32_t quiet_;
};

}  // namespace

TG_EXPORT int tg_abi_version() { return kAbiVersion; }
TG_EXPORT std::size_t tg_counter_count() { return kCounterWords; }
TG_EXPORT void* tg_create(std::uint32_t quiet) {  // the handle is owned by the caller until tg_destroy
    try {
        return std::make_unique<Sim>(quiet).release();
    } catch (...) {
        return nullptr;
    }
}
TG_EXPORT void tg_destroy(void* sim) { std::unique_ptr<Sim>(static_cast<Sim*>(sim)); }
TG_EXPORT void tg_reset(void* sim) { static_cast<Sim*>(sim)->reset(); }
TG_EXPORT void tg_set_quiet(void* sim, std::uint32_t quiet) { static_cast<Sim*>(sim)->set_quiet(quiet); }
TG_EXPORT int tg_write_reg(void* sim, std::uint32_t addr, std::uint32_t value) {
    return static_cast<Sim*>(sim)->write_reg(addr, value);
}
TG_EXPORT int tg_read_reg(void* sim, std::uint32_t addr, std::uint32_t* out) {
    return static_cast<Sim*>(sim)->read_reg(addr, out);
}
TG_EXPORT std::int64_t tg_feed(void* sim, const std::uint8_t* bytes, std::size_t words) {
    return static_cast<Sim*>(sim)->feed(bytes, words);
}
TG_EXPORT std::size_t tg_pending(void* sim) { return static_cast<Sim*>(sim)->pending(); }
TG_EXPORT std::size_t tg_take_events(void* sim, std::uint8_t* out, std::size_t max) {
    return static_cast<Sim*>(sim)->take(out, max);
}
TG_EXPORT void tg_counters(void* sim, std::uint64_t* out) { static_cast<Sim*>(sim)->counters(out); }
TG_EXPORT std::uint64_t tg_cycles(void* sim) { return static_cast<Sim*>(sim)->cycles(); }
