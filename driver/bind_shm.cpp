// Python access to the shared-memory event ring's producer (shm_producer.hpp). Readers in Python map the segment
// themselves (tickgate.host.shm); C++ clients include shm_reader.hpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "bindings.hpp"
#include "shm_producer.hpp"

namespace py = pybind11;

namespace tickgate::driver {

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
}

}  // namespace tickgate::driver
