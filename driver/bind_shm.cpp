// Python access to the shared-memory event ring's producer (shm_producer.hpp). Readers in Python map the segment
// themselves (tickgate.host.shm); C++ clients include shm_reader.hpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <time.h>

#include <cerrno>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "bindings.hpp"
#include "shm_producer.hpp"

namespace py = pybind11;

namespace tickgate::driver {
namespace {

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// The benchmarks' publisher loop (tests/bench_shm.py): each record alone, its ts_local set to CLOCK_MONOTONIC
/// ns just before it is published, `gap_ns` apart (sleeping in between: a spinning real-time publisher would be
/// throttled by the kernel). The ring alone, without Python per record.
void publish_paced(shm::Producer& p, const py::array& records, std::uint64_t gap_ns) {
  if (records.ndim() != 1 || records.itemsize() != static_cast<py::ssize_t>(events::kEventSize) ||
      !(records.flags() & py::array::c_style)) {
    throw py::value_error("records must be a contiguous 1-D array of EVENT_DTYPE (64-byte records)");
  }
  const auto* src = static_cast<const events::Event*>(records.data());
  const auto n = static_cast<std::size_t>(records.size());
  py::gil_scoped_release release;
  std::uint64_t next = monotonic_ns();
  for (std::size_t i = 0; i < n; ++i) {
    events::Event e = src[i];
    e.ts_local = monotonic_ns();
    p.publish({&e, 1});
    next += gap_ns;
    const timespec until{static_cast<time_t>(next / 1'000'000'000ULL), static_cast<long>(next % 1'000'000'000ULL)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
  }
}

}  // namespace

void bind_shm(py::module_& m) {
  using shm::Producer;
  py::class_<Producer, std::unique_ptr<Producer>>(m, "ShmProducer",
      "The one producer of a shared-memory event ring (/dev/shm/NAME, `records` records, a power of two). "
      "Opening a segment of the same layout takes it over as a restart (indices continue, epoch + 1); another "
      "layout is marked stale and replaced; a second live producer is refused.")
      .def(py::init<const std::string&, std::size_t>(), py::arg("name"), py::arg("records"))
      .def("publish", [](Producer& p, const py::array& batch) {
            if (batch.ndim() != 1 || batch.itemsize() != static_cast<py::ssize_t>(events::kEventSize) ||
                !(batch.flags() & py::array::c_style)) {
              throw py::value_error("batch must be a contiguous 1-D array of EVENT_DTYPE (64-byte records)");
            }
            p.publish({static_cast<const events::Event*>(batch.data()), static_cast<std::size_t>(batch.size())});
          }, py::arg("batch"), "Publish the records of `batch` (never waits for a reader).")
      .def("close", &Producer::close, "Mark the segment closed (readers can still drain it) and unmap it.")
      .def("unlink", &Producer::unlink, "Remove the segment's name.")
      .def_property_readonly("head", &Producer::head, "Records published, ever, on this segment.")
      .def_property_readonly("epoch", &Producer::epoch, "1 when made, +1 on every producer restart.")
      .def_property_readonly("capacity", &Producer::capacity)
      .def_property_readonly("reopened", &Producer::reopened, "Whether opening took over an existing segment.")
      .def_property_readonly("readers", &Producer::readers, "Readers holding a slot now.")
      .def_property_readonly("name", &Producer::name);
  m.def("shm_publish_paced", &publish_paced, py::arg("producer"), py::arg("records"), py::arg("gap_ns"),
        "Benchmarks: publish each record alone, ts_local = CLOCK_MONOTONIC ns just before, gap_ns apart.");
}

}  // namespace tickgate::driver
