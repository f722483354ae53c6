// scan_slots and image_mismatch: the F1 slots under a sysfs PCI devices folder (see f1_scan.hpp).
#include "f1_scan.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

namespace tickgate::driver {

namespace fs = std::filesystem;

namespace {

std::string ids(std::uint16_t v, std::uint16_t d, std::uint16_t sv, std::uint16_t s) {
  return hex16(v) + ":" + hex16(d) + " (subsystem " + hex16(sv) + ":" + hex16(s) + ")";
}

/// A sysfs ID file ("0x1d0f\n"), or nothing if missing or not a 16-bit hex number.
std::optional<std::uint16_t> read_id(const fs::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text.size() < 3 || text.size() > 6 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return std::nullopt;
  }
  unsigned v = 0;
  for (std::size_t i = 2; i < text.size(); ++i) {
    const char c = text[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
  }
  return static_cast<std::uint16_t>(v);
}

/// "DDDD:BB:dd.f" -> the same with the device number moved by `delta` and the function `function` (-1: kept);
/// nothing if not such an address.
std::optional<std::string> move_device(const std::string& address, int delta, int function) {
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  char tail = 0;
  if (address.size() != 12 || std::sscanf(address.c_str(), "%4x:%2x:%2x.%1x%c", &domain, &bus, &dev, &fn, &tail) != 4) {
    return std::nullopt;
  }
  const int moved = static_cast<int>(dev) + delta;
  if (moved < 0 || moved > 0x1f || function > 7) return std::nullopt;
  if (function >= 0) fn = static_cast<unsigned>(function);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, static_cast<unsigned>(moved), fn);
  return std::string(buf);
}

/// N of the xdma<N>_h2c_0 entry in the function's sysfs xdma/ folder, or -1.
int xdma_index(const fs::path& app_dir) {
  std::error_code ec;
  int found = -1;
  for (const auto& entry : fs::directory_iterator(app_dir / "xdma", ec)) {
    const std::string name = entry.path().filename().string();
    int n = -1;
    char rest[16] = {};
    if (std::sscanf(name.c_str(), "xdma%d_h2c_%15s", &n, rest) == 2 && std::string(rest) == "0" && n >= 0) {
      found = found < 0 ? n : std::min(found, n);
    }
  }
  return found;
}

}  // namespace

std::vector<F1Slot> scan_slots(const std::string& sysfs_root, const F1Layout& layout) {
  std::vector<std::string> mgmt;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sysfs_root, ec)) {
    const auto vendor = read_id(entry.path() / "vendor");
    const auto device = read_id(entry.path() / "device");
    if (vendor == layout.mgmt_vendor_id && device == layout.mgmt_device_id) {
      mgmt.push_back(entry.path().filename().string());
    }
  }
  std::sort(mgmt.begin(), mgmt.end());
  std::vector<F1Slot> slots;
  for (const std::string& address : mgmt) {
    F1Slot s;
    s.index = static_cast<int>(slots.size());
    s.mgmt_address = address;
    s.app_address = move_device(address, layout.app_device_delta, layout.app_function).value_or("");
    if (!s.app_address.empty()) {
      const fs::path dir = fs::path(sysfs_root) / s.app_address;
      const auto v = read_id(dir / "vendor");
      const auto d = read_id(dir / "device");
      const auto sv = read_id(dir / "subsystem_vendor");
      const auto sd = read_id(dir / "subsystem_device");
      if (v && d && sv && sd) {
        s.app_present = true;
        s.vendor_id = *v;
        s.device_id = *d;
        s.subsystem_vendor_id = *sv;
        s.subsystem_id = *sd;
        s.xdma = xdma_index(dir);
      }
    }
    slots.push_back(std::move(s));
  }
  return slots;
}

std::string image_mismatch(const F1Slot& slot, const F1Image& image, const F1Layout& layout) {
  const std::string where = "slot " + std::to_string(slot.index) + " (" +
                            (slot.app_address.empty() ? slot.mgmt_address : slot.app_address) + ")";
  const std::string load = "fpga-load-local-image -S " + std::to_string(slot.index) + " -I " +
                           (image.name.empty() ? "<agfi id>" : image.name);
  if (!slot.app_present) {
    return where + ": no application function in sysfs (or its vendor/device/subsystem files are unreadable): "
                   "load the image (" + load + ")";
  }
  if (slot.vendor_id == image.vendor_id && slot.device_id == image.device_id &&
      slot.subsystem_vendor_id == image.subsystem_vendor_id && slot.subsystem_id == image.subsystem_id) {
    return "";
  }
  if (slot.vendor_id == layout.mgmt_vendor_id && slot.device_id == layout.cleared_device_id) {
    return where + " is cleared (application function " + hex16(slot.vendor_id) + ":" + hex16(slot.device_id) +
           "): load the image (" + load + ")";
  }
  return where + " holds another image: its application function is " +
         ids(slot.vendor_id, slot.device_id, slot.subsystem_vendor_id, slot.subsystem_id) + ", the expected image " +
         (image.name.empty() ? "" : image.name + " ") + "is " +
         ids(image.vendor_id, image.device_id, image.subsystem_vendor_id, image.subsystem_id) +
         "; check `fpga-describe-local-image -S " + std::to_string(slot.index) +
         " -H` (an image just loaded may show old IDs until a PCI rescan)";
}

}  // namespace tickgate::driver
