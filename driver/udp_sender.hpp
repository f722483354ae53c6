// A paced UDP sender for benchmarks and tests: datagrams to one IPv4 address at a fixed rate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tickgate::driver {

struct PacedSendResult {
  std::uint64_t sent = 0;  // datagrams handed to the kernel
  std::uint64_t send_errors = 0;  // sendmmsg refusals (ENOBUFS...): the datagram is not sent, not retried
  std::uint64_t elapsed_ns = 0;  // from the first send to the last
  std::uint64_t max_behind_ns = 0;  // how far behind its schedule a datagram went out, at most
  std::uint64_t syscalls = 0;
};

/// Sends `datagrams` to host:port, datagram i at start + i / rate_pps (CLOCK_MONOTONIC); datagrams already
/// due when one goes out go in the same sendmmsg (at most 64 a call), so a sender that falls behind catches
/// up in bursts. With `quantum_ns` 0 it spins between sends (each datagram at its time, a core spent on
/// waiting); otherwise it sleeps until the next multiple of `quantum_ns` from the start and sends what is
/// due by then (a burst of rate x quantum datagrams, the CPU left to the receiver and the kernel between).
/// Stops after `max_seconds`. Throws std::system_error on socket errors.
PacedSendResult send_paced(std::span<const std::span<const std::byte>> datagrams, const std::string& host,
                           std::uint16_t port, double rate_pps, double max_seconds, std::uint64_t quantum_ns = 0);

}  // namespace tickgate::driver
