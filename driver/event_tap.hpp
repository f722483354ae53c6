// What sees a device's events as they are collected, in C++, before Python does: the native order path sends
// the orders of FIRE events from here (Device::take), so no Python runs between a fire and its socket write.
#pragma once

#include <span>

#include "tickgate/protocol.hpp"

namespace tickgate::driver {

class EventTap {
 public:
  virtual ~EventTap() = default;
  /// The events just collected, in order (the caller's buffer: read them, do not keep the span).
  virtual void on_events(std::span<const events::Event> batch) = 0;
};

}  // namespace tickgate::driver
