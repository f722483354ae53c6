// FakeBar0: BAR0 of a fake card (f1_fake, f2_fake) as the host maps it: the register map's words over a
// SoftwareDevice. Read-write words keep what the host stored; refresh() fills the read-only words and the
// counters from the model. Test doubles only (the card itself cannot exist on a test machine).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "device_software.hpp"

namespace tickgate::driver {

class FakeBar0 {
 public:
  /// The image of `model`'s registers, rounded up to whole 4 KiB pages (what mmap of resource0 returns).
  explicit FakeBar0(SoftwareDevice& model) : image_((regs::kMapSize + kPage - 1) / kPage * kPage / 4, 0) {
    for (const regs::Register& r : regs::kRegisters) {
      for (std::uint32_t w = 0; w < r.width / 32; ++w) {
        const std::uint32_t off = r.offset + 4 * w;
        word(off) = model.read_register(off);
        if (r.access == regs::Access::kRo && r.group != "counter") ro_words_.push_back(off);
      }
    }
  }

  std::uint32_t& word(std::uint32_t offset) noexcept { return image_[offset / 4]; }
  void put64(std::uint32_t offset, std::uint64_t v) noexcept {
    word(offset) = static_cast<std::uint32_t>(v);
    word(offset + 4) = static_cast<std::uint32_t>(v >> 32);
  }
  void* data() noexcept { return image_.data(); }
  std::size_t bytes() const noexcept { return image_.size() * 4; }

  /// A clear-counters command the host stored (control bit 1) applied to `model`, the bit then reading 0;
  /// whether there was one.
  bool take_clear(SoftwareDevice& model) {
    namespace o = regs::offset;
    if (!(word(o::control) & SoftwareDevice::kControlClearCounters)) return false;
    model.write_register(o::control, model.read_register(o::control) | SoftwareDevice::kControlClearCounters);
    word(o::control) &= ~SoftwareDevice::kControlClearCounters;
    return true;
  }

  /// The read-only words and every counter from `model` (the counters at once), `id` and `map_version` as
  /// the fake is configured to show them.
  void refresh(SoftwareDevice& model, std::uint32_t id, std::uint32_t map_version) {
    for (const std::uint32_t off : ro_words_) word(off) = model.read_register(off);
    const auto counters = model.counters();
    for (std::size_t i = 0; i < regs::kCounters.size(); ++i) put64(regs::kCounters[i].offset, counters[i]);
    word(regs::offset::id) = id;
    word(regs::offset::map_version) = map_version;
  }

  /// A card gone from the bus: every word reads 0xFFFFFFFF.
  void gone() noexcept { std::fill(image_.begin(), image_.end(), 0xFFFFFFFFu); }

 private:
  static constexpr std::size_t kPage = 4096;

  std::vector<std::uint32_t> image_;
  std::vector<std::uint32_t> ro_words_;  // the read-only registers' words but the counters'
};

}  // namespace tickgate::driver
