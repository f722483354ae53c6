// shm_ring_reader: a C++ client of the shared-memory event ring (shm_reader.hpp), its example and its test
// program. It busy-polls segment NAME and ends with one JSON line: records received and missed, producer
// restarts seen, the first and last `seq`, `breaks` (a record whose seq is not the one before's + 1) and
// `skipped` (the seq numbers jumped over from the reader's start: equal to `missed` when the producer numbers its
// records seq = index + 1, as the tests do), and with
// --latency each record's CLOCK_MONOTONIC now - ts_local (the producer's stamp) as percentiles in ns.
//
//   shm_ring_reader NAME [--count N] [--oldest] [--latency] [--cpu C] [--timeout S]
//
// It stops after N records received or missed, when the producer closed the segment and it is drained, or after
// S seconds (default 10) without a record.
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "shm_reader.hpp"

namespace {

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string name;
  std::uint64_t count = 0;  // 0: until closed or idle
  bool oldest = false, latency = false;
  int cpu = -1;
  double timeout_s = 10.0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--count") o.count = std::strtoull(value(), nullptr, 10);
    else if (a == "--oldest") o.oldest = true;
    else if (a == "--latency") o.latency = true;
    else if (a == "--cpu") o.cpu = std::atoi(value());
    else if (a == "--timeout") o.timeout_s = std::atof(value());
    else if (o.name.empty() && !a.starts_with("-")) o.name = a;
    else throw std::invalid_argument("unknown argument " + std::string(a));
  }
  if (o.name.empty()) throw std::invalid_argument("usage: shm_ring_reader NAME [--count N] [--oldest] [--latency] "
                                                  "[--cpu C] [--timeout S]");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (o.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o.cpu, &set);
    ::sched_setaffinity(0, sizeof(set), &set);  // best effort: a machine without that CPU still runs
  }
  using namespace tickgate;
  shm::Reader reader{o.name, o.oldest ? shm::Start::kOldest : shm::Start::kNewest};
  std::printf("{\"ready\": true}\n");
  std::fflush(stdout);
  std::array<events::Event, 256> buf;
  std::vector<std::uint64_t> lat;
  if (o.latency) lat.reserve(o.count ? o.count : 1 << 20);
  std::uint64_t received = 0, first = 0, last = 0, breaks = 0, skipped = 0;
  const std::uint64_t start = reader.next();
  const auto timeout_ns = static_cast<std::uint64_t>(o.timeout_s * 1e9);
  std::uint64_t last_seen = monotonic_ns();
  bool ended = false;
  for (;;) {
    const auto got = reader.poll(buf);
    if (got.empty()) {
      if (o.count && received + reader.missed() >= o.count) break;
      if (reader.closed() || reader.stale()) {
        if (ended) break;  // polled once more after the producer's last head: drained
        ended = true;
        continue;
      }
      if (monotonic_ns() - last_seen > timeout_ns) break;
      continue;
    }
    const std::uint64_t now = monotonic_ns();
    last_seen = now;
    for (const events::Event& e : got) {
      if (o.latency) lat.push_back(now - e.ts_local);
      if (received == 0) {
        first = e.seq;
        last = start;  // the seq before the start index's record
      }
      if (e.seq != last + 1) {
        if (received != 0) ++breaks;
        skipped += e.seq - last - 1;
      }
      last = e.seq;
      ++received;
    }
    if (o.count && received + reader.missed() >= o.count) break;
  }
  std::printf("{\"received\": %llu, \"missed\": %llu, \"restarts\": %llu, \"first_seq\": %llu, \"last_seq\": %llu, "
              "\"breaks\": %llu, \"skipped\": %llu, \"closed\": %s",
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(reader.missed()),
              static_cast<unsigned long long>(reader.restarts()), static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(last), static_cast<unsigned long long>(breaks),
              static_cast<unsigned long long>(skipped),
              reader.closed() ? "true" : "false");
  if (o.latency && !lat.empty()) {
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) {
      return static_cast<unsigned long long>(lat[static_cast<std::size_t>(q * static_cast<double>(lat.size() - 1))]);
    };
    std::printf(", \"latency_ns\": {\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p99.9\": %llu, \"max\": %llu}",
                pct(0.5), pct(0.9), pct(0.99), pct(0.999), static_cast<unsigned long long>(lat.back()));
  }
  std::printf("}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "shm_ring_reader: %s\n", e.what());
  return 1;
}
