// The pieces of the tickgate._driver module, each bound by its own function.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

/// The bytes of a contiguous 1-D buffer of bytes (bytes, bytearray, uint8 array); ValueError otherwise.
inline std::span<const std::byte> bytes_of(const pybind11::buffer_info& info) {
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw pybind11::value_error("expected a contiguous 1-D buffer of bytes (bytes, bytearray, uint8 array)");
  }
  return {static_cast<const std::byte*>(info.ptr), static_cast<std::size_t>(info.size)};
}

/// The records of a writable, contiguous 1-D array of 64-byte events (EVENT_DTYPE or its V64 view), for a
/// device to write into; ValueError otherwise.
inline std::span<events::Event> events_of(const pybind11::array& out) {
  if (out.ndim() != 1 || out.itemsize() != static_cast<pybind11::ssize_t>(events::kEventSize) ||
      !(out.flags() & pybind11::array::c_style) || !out.writeable()) {
    throw pybind11::value_error("out must be a writable, contiguous 1-D array of EVENT_DTYPE (64-byte records)");
  }
  return {static_cast<events::Event*>(const_cast<void*>(out.data())), static_cast<std::size_t>(out.size())};
}

/// The generated protocol contracts (tickgate/protocol.hpp): tables, decoding and framing.
void bind_protocol(pybind11::module_& m);

/// SoftwareCard, the card modelled in C++ (software_card.hpp).
void bind_software(pybind11::module_& m);

/// FeedBook, the backtest's order-by-order book of the feed (feed_book.hpp).
void bind_feed_book(pybind11::module_& m);

/// OrderPath, the native order path (risk, OUCH 5.0, SoupBinTCP), and its SoupWriter (bind_orders.cpp).
void bind_orders(pybind11::module_& m);

/// The Device interface, SoftwareDevice, F2Device, F1Device and their fake cards (bind_device.cpp).
void bind_device(pybind11::module_& m);

/// ShmProducer, the shared-memory event ring's producer (bind_shm.cpp).
void bind_shm(pybind11::module_& m);

/// UdpReceiver, the native live feed, and udp_send_paced (bind_udp.cpp).
void bind_udp(pybind11::module_& m);

/// FileFeed, the native reader of BinaryFILE and pcap files into DMA batches (bind_reader.cpp).
void bind_reader(pybind11::module_& m);

}  // namespace tickgate::driver
