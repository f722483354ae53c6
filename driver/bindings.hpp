// The pieces of the tickgate._driver module, each bound by its own function.
#pragma once

#include <pybind11/pybind11.h>

namespace tickgate::driver {

/// The generated protocol contracts (tickgate/protocol.hpp): tables, decoding and framing.
void bind_protocol(pybind11::module_& m);

/// SoftwareCard, the card modelled in C++ (software_card.hpp).
void bind_software(pybind11::module_& m);

}  // namespace tickgate::driver
