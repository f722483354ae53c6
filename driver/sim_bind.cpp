// Python access to SimDevice: the Verilated pipeline as a Device.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "device_bind.hpp"
#include "sim_device.hpp"

namespace py = pybind11;

namespace tickgate::driver {

void bind_sim(py::module_& m) {
  py::class_<SimDevice, Device, std::shared_ptr<SimDevice>>(
      m, "SimDevice",
      "The pipeline RTL Verilated (a harness library of sim/verilated/build.py, one per geometry) as a Device.")
      .def(py::init([](const std::string& library, const std::vector<std::string>& counter_names,
                       std::uint32_t quiet) { return std::make_shared<SimDevice>(library, counter_names, quiet); }),
           py::arg("library"), py::arg("counter_names"), py::arg("quiet") = 256,
           "library: the harness's path; counter_names: the register-map counters of its counters port, in "
           "order (hdl.pipeline.pipeline_counters('dma')); quiet: idle cycles that end a feed.")
      .def_property_readonly("cycles", &SimDevice::cycles, "Clock cycles simulated since the model was made.")
      .def_property_readonly("busy_cycles", &SimDevice::busy_cycles, "Cycles spent simulating submitted batches.")
      .def_property_readonly("library", &SimDevice::library);
}

}  // namespace tickgate::driver
