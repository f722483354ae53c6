// SimDevice: dlopen of a harness library, its C ABI behind the Device interface.
#include "sim_device.hpp"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <string_view>

namespace tickgate::driver {
namespace {

template <typename F>
void resolve(void* lib, const std::string& path, const char* name, F& fn) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    throw DeviceError(DeviceError::Kind::kIo, path + ": no symbol " + name + ": not a tickgate harness library "
                                                  "(sim/verilated/build.py builds one per geometry)");
  }
  fn = reinterpret_cast<F>(sym);
}

/// The ABI of the library at `path`, opened once per process.
const HarnessAbi& open_library(const std::string& path) {
  static std::mutex lock;
  static std::map<std::string, HarnessAbi> opened;
  const std::lock_guard guard(lock);
  if (auto it = opened.find(path); it != opened.end()) return it->second;
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw DeviceError(DeviceError::Kind::kNotFound, "cannot load the Verilated pipeline " + path + ": " +
                                                        (why ? why : "dlopen failed"));
  }
  HarnessAbi abi{};
  resolve(lib, path, "tg_abi_version", abi.abi_version);
  resolve(lib, path, "tg_counter_count", abi.counter_count);
  resolve(lib, path, "tg_create", abi.create);
  resolve(lib, path, "tg_destroy", abi.destroy);
  resolve(lib, path, "tg_reset", abi.reset);
  resolve(lib, path, "tg_set_quiet", abi.set_quiet);
  resolve(lib, path, "tg_write_reg", abi.write_reg);
  resolve(lib, path, "tg_read_reg", abi.read_reg);
  resolve(lib, path, "tg_feed", abi.feed);
  resolve(lib, path, "tg_pending", abi.pending);
  resolve(lib, path, "tg_take_events", abi.take_events);
  resolve(lib, path, "tg_counters", abi.counters);
  resolve(lib, path, "tg_cycles", abi.cycles);
  if (abi.abi_version() != SimDevice::kHarnessAbi) {
    throw DeviceError(DeviceError::Kind::kWrongImage,
                      path + ": harness ABI " + std::to_string(abi.abi_version()) + ", expected " +
                          std::to_string(SimDevice::kHarnessAbi) + ": rebuild it (delete build/sim/)");
  }
  return opened.emplace(path, abi).first->second;
}

std::size_t counter_index(const std::string& name) {
  for (std::size_t i = 0; i < regs::kCounters.size(); ++i) {
    if (regs::kCounters[i].name == std::string_view(name)) return i;
  }
  throw DeviceError(DeviceError::Kind::kWrongImage, "counter " + name + " is not in the register map");
}

}  // namespace

SimDevice::SimDevice(const std::string& library, const std::vector<std::string>& counter_names,
                     std::uint32_t quiet)
    : library_(library), abi_(&open_library(library)) {
  if (abi_->counter_count() != counter_names.size()) {
    throw DeviceError(DeviceError::Kind::kWrongImage,
                      library + ": " + std::to_string(abi_->counter_count()) + " counters on the port, the pipeline "
                      "has " + std::to_string(counter_names.size()) + ": a stale build");
  }
  for (const std::string& name : counter_names) counter_index_.push_back(counter_index(name));
  port_.resize(counter_names.size());
  sim_ = abi_->create(quiet);
  if (sim_ == nullptr) throw DeviceError(DeviceError::Kind::kIo, library + ": could not create the model");
}

SimDevice::~SimDevice() { close(); }

void SimDevice::close() {
  if (sim_ != nullptr) {
    abi_->destroy(sim_);
    sim_ = nullptr;
  }
}

void* SimDevice::live() const {
  if (sim_ == nullptr) throw DeviceError(DeviceError::Kind::kGone, "the Verilated pipeline is closed");
  return sim_;
}

std::size_t SimDevice::submit(std::span<const std::byte> batch) {
  void* sim = live();
  if (batch.size() % sizeof(std::uint64_t)) {
    throw std::invalid_argument("DMA input is whole 64-bit words, not " + std::to_string(batch.size()) + " bytes");
  }
  const std::int64_t cycles =
      abi_->feed(sim, reinterpret_cast<const std::uint8_t*>(batch.data()), batch.size() / sizeof(std::uint64_t));
  if (cycles < 0) {
    throw DeviceError(DeviceError::Kind::kTimeout,
                      "the Verilated pipeline stopped taking input (dma_in.ready low for 4M cycles)");
  }
  busy_cycles_ += static_cast<std::uint64_t>(cycles);
  return batch.size();
}

std::size_t SimDevice::collect(std::span<events::Event> out) {
  return abi_->take_events(live(), reinterpret_cast<std::uint8_t*>(out.data()), out.size());
}

std::size_t SimDevice::pending() { return abi_->pending(live()); }

std::uint32_t SimDevice::read_register(std::uint32_t offset) {
  std::uint32_t value = 0;
  const int resp = abi_->read_reg(live(), offset, &value);
  if (resp != 0) {
    throw DeviceError(resp < 0 ? DeviceError::Kind::kTimeout : DeviceError::Kind::kRefused,
                      "register read " + register_name(offset) + " answered " +
                          (resp < 0 ? std::string("nothing (timeout)") : std::to_string(resp)));
  }
  return value;
}

void SimDevice::write_register(std::uint32_t offset, std::uint32_t value) {
  const int resp = abi_->write_reg(live(), offset, value);
  if (resp != 0) {
    throw DeviceError(resp < 0 ? DeviceError::Kind::kTimeout : DeviceError::Kind::kRefused,
                      "register write " + register_name(offset) + " <- " + std::to_string(value) + " answered " +
                          (resp < 0 ? std::string("nothing (timeout)") : std::to_string(resp)));
  }
  writes_.emplace_back(offset, value);
}

void SimDevice::reset() {
  void* sim = live();
  abi_->reset(sim);
  std::vector<events::Event> drop(abi_->pending(sim));
  abi_->take_events(sim, reinterpret_cast<std::uint8_t*>(drop.data()), drop.size());
  const auto writes = std::exchange(writes_, {});
  for (const auto& [offset, value] : writes) write_register(offset, value);
}

DeviceIdentity SimDevice::identify() {
  DeviceIdentity d;
  d.backend = "sim";
  d.location = library_;
  d.id = read_register(regs::offset::id);
  d.map_version = read_register(regs::offset::map_version);
  d.cap_orders = read_register(regs::offset::cap_orders);
  d.cap_levels = read_register(regs::offset::cap_levels);
  d.cap_symbols = read_register(regs::offset::cap_symbols);
  return d;
}

std::array<std::uint64_t, regs::kCounterCount> SimDevice::counters() {
  abi_->counters(live(), port_.data());
  std::array<std::uint64_t, regs::kCounterCount> out{};
  for (std::size_t i = 0; i < port_.size(); ++i) out[counter_index_[i]] = port_[i];
  return out;
}

std::uint64_t SimDevice::cycles() { return abi_->cycles(live()); }

}  // namespace tickgate::driver
