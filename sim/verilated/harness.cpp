// The pipeline RTL (hdl/pipeline.py, input "dma") inside sim_top.v, Verilated as Vtop, driven from a C++
// loop, behind a C ABI.
//
// sim_top.v leaves no logic of the pipeline depending on a top-level input (events.ready tied high, the
// reset, the DMA word and the AXI-Lite master in registers), so a cycle is: inputs set, the rising edge
// evaluated (everything is computed there, once), then the falling edge evaluated (Verilator must see the
// clock low to see the next rising edge; with nothing depending on an input this eval does almost nothing).
// Outputs read after a cycle are those of the state after its edge, and are what the next edge transfers.
// `tg_feed` offers the 64-bit dma words (the bytes of protocol.moldudp64.pack_dma, little-endian) whenever
// the input slice takes one, keeps every event, and after the last word runs until nothing has happened for
// `quiet` cycles (no event out, no counter changed). Events wait in an internal buffer until
// `tg_take_events` copies them out (one memcpy into the caller's array).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

#ifndef TG_MODEL_THREADS
#define TG_MODEL_THREADS 1  // the model's --threads (sim/verilated/build.py)
#endif
#define TG_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kAbiVersion = 1;
constexpr std::size_t kEventBytes = 64;
constexpr std::size_t kCounterBytes = sizeof(std::declval<Vtop&>().counters);
constexpr std::size_t kCounterWords = kCounterBytes / sizeof(std::uint64_t);
static_assert(sizeof(std::declval<Vtop&>().ev_payload) == kEventBytes, "events are 512-bit records");
static_assert(kCounterBytes % sizeof(std::uint64_t) == 0, "counters are 64-bit each");

//: Cycles an AXI-Lite transaction or a stalled input may take before the call gives up.
constexpr std::uint64_t kRegisterTimeout = 1000;
constexpr std::uint64_t kStallTimeout = 1u << 22;

class Sim {
public:
    explicit Sim(std::uint32_t quiet) : ctx_(std::make_unique<VerilatedContext>()), quiet_(quiet) {
        ctx_->threads(TG_MODEL_THREADS);
        top_ = std::make_unique<Vtop>(ctx_.get(), "top");
        top_->clk = 0;
        top_->eval();  // once with the clock low before the first edge
        reset();
    }

    ~Sim() { top_->final(); }

    // The pipeline's reset held for 4 cycles (sim_top.v); events out meanwhile are not kept.
    void reset() {
        top_->in_valid = 0;
        top_->bus_go = 0;
        top_->rst_req = 1;
        cycle();
        top_->rst_req = 0;
        for (int i = 0; i < 4; ++i) cycle();
    }

    // AXI-Lite write. Returns bresp (0 OKAY), or -1 on a timeout.
    int write_reg(std::uint32_t addr, std::uint32_t value) {
        top_->bus_write = 1;
        top_->bus_wdata = value;
        return transact(addr, top_->bus_bvalid, top_->bus_bresp);
    }

    // AXI-Lite read. Returns rresp (0 OKAY) with the data in *out, or -1 on a timeout.
    int read_reg(std::uint32_t addr, std::uint32_t* out) {
        top_->bus_write = 0;
        const int resp = transact(addr, top_->bus_rvalid, top_->bus_rresp, &top_->bus_rdata);
        if (resp >= 0) *out = last_rdata_;
        return resp;
    }

    // Push `n` words, then run until quiet. Returns the cycles taken, or -1 if the input stalled for good.
    std::int64_t feed(const std::uint8_t* bytes, std::size_t n) {
        const std::uint64_t start = cycles_;
        std::size_t i = 0;
        std::uint64_t stalled = 0;
        while (i < n || top_->in_busy) {
            if (top_->in_ready) {  // whatever is offered now is taken at this edge
                stalled = 0;
                if (i < n) {
                    std::uint64_t word;
                    std::memcpy(&word, bytes + i * sizeof word, sizeof word);
                    top_->in_payload = word;
                    top_->in_valid = 1;
                    ++i;
                } else {
                    top_->in_valid = 0;
                }
            } else if (++stalled > kStallTimeout) {
                top_->in_valid = 0;
                return -1;
            }
            cycle();
            capture();
        }
        top_->in_valid = 0;
        settle();
        return static_cast<std::int64_t>(cycles_ - start);
    }

    // Run until nothing happened for `quiet_` cycles.
    void settle() {
        std::vector<std::uint8_t> seen(kCounterBytes);
        std::memcpy(seen.data(), top_->counters.data(), kCounterBytes);
        std::uint32_t idle = 0;
        while (idle < quiet_) {
            cycle();
            if (capture()) {
                idle = 0;
            } else if ((++idle & 15) == 0 && std::memcmp(seen.data(), top_->counters.data(), kCounterBytes) != 0) {
                std::memcpy(seen.data(), top_->counters.data(), kCounterBytes);
                idle = 0;
            }
        }
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
    // One bus transaction (bus_write and bus_wdata already set): started at one edge, then cycles until the
    // response's `valid` (B or R) shows; one more edge takes it. Events meanwhile are kept.
    int transact(std::uint32_t addr, const CData& valid, const CData& resp, const IData* rdata = nullptr) {
        top_->bus_addr = addr;
        top_->bus_go = 1;
        cycle();
        capture();
        top_->bus_go = 0;
        for (std::uint64_t n = 0; n < kRegisterTimeout; ++n) {
            if (valid) {
                const int got = resp;
                if (rdata) last_rdata_ = *rdata;
                cycle();
                capture();
                return got;
            }
            cycle();
            capture();
        }
        return -1;
    }

    // After a cycle: keep the event on the output if there is one (the next edge takes it: ready is high).
    bool capture() {
        if (!top_->ev_valid) return false;
        std::size_t at = events_.size();
        events_.resize(at + kEventBytes);
        std::memcpy(events_.data() + at, top_->ev_payload.data(), kEventBytes);
        return true;
    }

    void cycle() {
        top_->clk = 1;
        top_->eval();
        top_->clk = 0;
        top_->eval();
        ++cycles_;
    }

    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vtop> top_;
    std::vector<std::uint8_t> events_;
    std::size_t read_ = 0;
    std::uint64_t cycles_ = 0;
    std::uint32_t quiet_;
    std::uint32_t last_rdata_ = 0;
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
