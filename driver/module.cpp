// tickgate._driver: the compiled side of tickgate.
#include <pybind11/pybind11.h>

#include "bindings.hpp"

PYBIND11_MODULE(_driver, m) {
  m.doc() = "tickgate driver: the protocol contracts compiled from the generated tickgate/protocol.hpp";
  tickgate::driver::bind_protocol(m);
  tickgate::driver::bind_software(m);
  tickgate::driver::bind_device(m);
  tickgate::driver::bind_orders(m);
  tickgate::driver::bind_udp(m);
  tickgate::driver::bind_shm(m);
  tickgate::driver::bind_reader(m);
  tickgate::driver::bind_feed_book(m);
}
