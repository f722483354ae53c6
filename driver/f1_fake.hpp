// FakeF1Card: the test double of an F1 card, the only mock in tickgate (the card cannot exist on a test
// machine). It is a PosixIo (f1_io.hpp says why the f1 backend does its file I/O through one): it serves
// the paths of one slot - the application function's resource0 and /dev/xdma<N>_h2c_0, _c2h_0 - from a
// SoftwareDevice, and passes every other path to the real system calls. The sysfs tree and the device
// files are real files in a temporary folder: deleting one makes it missing for the backend too.
//
// Deterministic by construction: no threads and no clocks. The card moves only inside pread/pwrite: bytes
// written to the ingress window join an ingress buffer of `ingress_capacity` bytes; every whole DMA record
// in it is fed to the model while fewer than `egress_capacity` events wait (so a host that never collects
// sees ingress_free fall to 0, as on the card); preads pop the events in order. After each call the BAR0
// image (what mmap returned) is refreshed: read-only registers from the model, `ingress_free` and
// `events_ready` from the buffers; read-write registers keep what the host wrote (control bit 1 clears
// the counters, then reads back 0). Plain memory cannot see a store, so a register write takes effect at
// the next pread/pwrite, where a card applies it at once: the one way the fake is less prompt than the
// card. Faults are injected after `fail_after` preads + pwrites.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "device_software.hpp"
#include "fake_bar0.hpp"
#include "fake_files.hpp"
#include "f1_io.hpp"

namespace tickgate::driver {

enum class FakeFault {
  kNone,
  kGone,  // every register reads 0xFFFFFFFF from then on
  kEio,  // pread/pwrite fail with EIO
  kTimeout,  // pread/pwrite fail with ETIMEDOUT
  kStall,  // the pipeline stops: what is buffered stays readable, the ingress buffer fills and stays full
};

struct FakeF1Config {
  std::string resource0;  // the paths served (they must exist as files)
  std::string h2c;
  std::string c2h;
  SoftwareCardConfig card;
  std::uint64_t ingress_base = 0;  // the DMA windows (protocol.f1_map); transfers outside them are refused
  std::uint64_t ingress_size = 0;
  std::uint64_t egress_base = 0;
  std::uint64_t egress_size = 0;
  std::size_t ingress_capacity = 1 << 16;  // bytes
  std::size_t egress_capacity = 1 << 12;  // events
  std::size_t max_transfer = 0;  // > 0: no pread/pwrite moves more bytes than this (short transfers)
  std::uint32_t id = regs::kIdMagic;  // what the id and map_version registers read
  std::uint32_t map_version = regs::kMapVersion;
  FakeFault fault = FakeFault::kNone;
  std::size_t fail_after = 0;  // preads + pwrites served before the fault
};

/// What the fake saw: calls, bytes, and protocol violations by the host (each also fails its call).
struct FakeF1Stats {
  std::size_t pwrites = 0;
  std::size_t preads = 0;
  std::size_t short_transfers = 0;  // calls that moved fewer bytes than asked
  std::size_t bytes_in = 0;
  std::size_t events_out = 0;
  std::size_t overruns = 0;  // pwrites of more than ingress_free bytes (ENOSPC)
  std::size_t overreads = 0;  // preads of more than events_ready records (EINVAL)
  std::size_t outside_window = 0;  // transfers outside their DMA window (EINVAL)
};

class FakeF1Card final : public PosixIo {
 public:
  explicit FakeF1Card(FakeF1Config config);

  int open(const std::string& path, int flags) override;
  ssize_t pread(int fd, void* buf, std::size_t count, off_t offset) override;
  ssize_t pwrite(int fd, const void* buf, std::size_t count, off_t offset) override;
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override;
  int munmap(void* addr, std::size_t length) override;
  int close(int fd) override;

  const FakeF1Stats& stats() const noexcept { return stats_; }
  /// Injects `fault` after `after` more preads + pwrites (kNone: heals nothing, only stops new faults).
  void inject(FakeFault fault, std::size_t after);
  SoftwareDevice& model() noexcept { return model_; }

 private:
  enum Served { kResource0, kH2c, kC2h, kServed };
  using Files = FakeFiles<kServed>;

  int tick();  // counts a transfer; the errno it fails with, 0 if it goes ahead
  void step();  // apply host register writes, move records into the model
  void refresh();  // the register image from the model and the buffers
  std::size_t ingress_free();
  std::size_t events_ready();
  std::uint32_t& word(std::uint32_t offset) noexcept { return bar_.word(offset); }

  FakeF1Config config_;
  SoftwareDevice model_;
  SystemIo real_;
  FakeBar0 bar_;  // BAR0 as the host sees it
  Files files_;  // the served paths (resource0, the DMA files)
  std::vector<std::byte> ingress_;  // bytes written, not yet fed
  std::vector<std::byte> egress_;  // the record being read, when a short pread split it
  std::size_t egress_head_ = 0;
  std::size_t ops_ = 0;
  bool faulted_ = false;
  FakeF1Stats stats_;
};

}  // namespace tickgate::driver
