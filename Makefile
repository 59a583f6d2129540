# make demo: train the digits CNN with both targets and show they agree bit for bit.
# make test: run every test (unit, golden, end-to-end). Both set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPEC ?= examples/configs/digits_cnn.yaml
DEMO := runs/demo

.PHONY: install test test-fast lint demo bench clean

$(BIN)/modelgen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# An editable install is not byte-compiled; compile once so the CLI starts faster.
	$(BIN)/python -m compileall -q modelgen
	touch $@

install: $(BIN)/modelgen

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check modelgen tests scripts benchmarks
	$(BIN)/ruff format --check modelgen tests scripts benchmarks

demo: install
	$(BIN)/modelgen validate $(SPEC)
	mkdir -p $(DEMO)/keras $(DEMO)/tf
	$(BIN)/modelgen build $(SPEC) --target keras -o $(DEMO)/keras/train.py
	$(BIN)/modelgen build $(SPEC) --target tf -o $(DEMO)/tf/train.py
	for t in keras tf; do \
	  $(BIN)/python $(DEMO)/$$t/train.py --metrics-out $(DEMO)/$$t/metrics.jsonl \
	    --save-weights $(DEMO)/$$t/weights.npz || exit 1; done
	$(BIN)/python scripts/compare_runs.py $(DEMO)/keras $(DEMO)/tf

bench: install
	$(BIN)/python benchmarks/cli_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
