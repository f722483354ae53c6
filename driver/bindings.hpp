// The pieces of the tickgate._driver module, each bound by its own function.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>

namespace tickgate::driver {

/// The bytes of a contiguous 1-D buffer of bytes (bytes, bytearray, uint8 array); ValueError otherwise.
inline std::span<const std::byte> bytes_of(const pybind11::buffer_info& info) {
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw pybind11::value_error("expected a contiguous 1-D buffer of bytes (bytes, bytearray, uint8 array)");
  }
  return {static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size)};
}

/// The generated protocol contracts (tickgate/protocol.hpp): tables, decoding and framing.
void bind_protocol(pybind11::module_& m);

/// SoftwareCard, the card modelled in C++ (software_card.hpp).
void bind_software(pybind11::module_& m);

/// FeedBook, the backtest's order-by-order book of the feed (feed_book.hpp).
void bind_feed_book(pybind11::module_& m);

/// The Device interface, SoftwareDevice, F1Device and the fake F1 card (bind_device.cpp).
void bind_device(pybind11::module_& m);

}  // namespace tickgate::driver
