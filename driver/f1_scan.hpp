// Finding F1 slots in sysfs and checking what image they hold (the first half of opening the f1 backend).
//
// Finding the card: every entry of the sysfs PCI devices folder whose vendor/device files read the
// management function's IDs (1d0f:1041) is a slot, slots numbered in address order. A slot's application
// function is at the same domain and bus, device number + F1Layout::app_device_delta (-1 on F1, as aws-fpga's
// fpga_pci does), same function; on F2 the same device, function F1Layout::app_function (0; the management
// function is 1). The f2 backend scans with this code too (f2_device.hpp). Its vendor, device, subsystem_vendor and subsystem_device files must equal
// the expected image's IDs (1d0f:1042 means a cleared slot). The XDMA driver's character devices of that
// function are named in its sysfs `xdma/` folder (xdma<N>_h2c_0); they live in the device folder (/dev).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace tickgate::driver {

/// Where things are on F1: protocol/f1_map.py, passed in by the caller (never retyped in C++).
struct F1Layout {
  std::uint16_t mgmt_vendor_id = 0;
  std::uint16_t mgmt_device_id = 0;
  std::uint16_t cleared_device_id = 0;
  int app_device_delta = 0;  // application function's PCI device number minus the management one's
  int app_function = -1;  // the application function's number; -1: the management function's (F1)
  std::uint64_t ingress_base = 0;
  std::uint64_t ingress_size = 0;
  std::uint64_t egress_base = 0;
  std::uint64_t egress_size = 0;
};

/// The image the host expects in the slot (from its manifest): the application function's IDs and the
/// register map version. `name` (e.g. the agfi id) only appears in messages.
struct F1Image {
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::uint16_t subsystem_vendor_id = 0;
  std::uint16_t subsystem_id = 0;
  std::uint32_t map_version = 0;
  std::string name;
};

/// One slot as sysfs shows it.
struct F1Slot {
  int index = -1;
  std::string mgmt_address;  // PCI address of the management function, e.g. 0000:00:1e.0
  std::string app_address;  // of the application function, e.g. 0000:00:1d.0
  bool app_present = false;  // its sysfs folder exists and its IDs could be read
  std::uint16_t vendor_id = 0;  // the application function's IDs (0 when absent)
  std::uint16_t device_id = 0;
  std::uint16_t subsystem_vendor_id = 0;
  std::uint16_t subsystem_id = 0;
  int xdma = -1;  // N of its /dev/xdma<N>_* devices; -1: no xdma driver bound
};

/// The slots under `sysfs_root` (e.g. /sys/bus/pci/devices), in address order.
std::vector<F1Slot> scan_slots(const std::string& sysfs_root, const F1Layout& layout);

/// Why `slot` does not hold `image` (one sentence with what to do), or "" if it does.
std::string image_mismatch(const F1Slot& slot, const F1Image& image, const F1Layout& layout);

/// "1d0f": a 16-bit ID as sysfs and lspci show it.
inline std::string hex16(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x", v & 0xFFFFu);
  return buf;
}

/// "0x544b4754": a register value.
inline std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%#010x", v);
  return buf;
}

}  // namespace tickgate::driver
