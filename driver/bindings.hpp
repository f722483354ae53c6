// The pieces of the tickgate._driver module, each bound by its own function.
#pragma once

#include <pybind11/pybind11.h>

namespace tickgate::driver {

/// The generated protocol contracts (tickgate/protocol.hpp): tables, decoding and framing.
void bind_protocol(pybind11::module_& m);

/// SoftwareCard, the card modelled in C++ (software_card.hpp).
void bind_software(pybind11::module_& m);

/// The Device interface, SoftwareDevice, F1Device and the fake F1 card (bind_device.cpp).
void bind_device(pybind11::module_& m);

}  // namespace tickgate::driver
