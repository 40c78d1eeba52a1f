PYTHON ?= python
# The CPU wheel keeps installs small; a CUDA torch already installed is left as it is.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test test-all lint bench-micro bench-compare benchmark benchmark-paper

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -e ".[dev]"

test:
	$(PYTHON) -m pytest

test-all:
	$(PYTHON) -m pytest -m "slow or not slow"

lint:
	$(PYTHON) -m ruff check benchmark baselines tests

bench-micro:
	$(PYTHON) -m pytest tests/benchmarks -m "slow or not slow" -o addopts="" --benchmark-only

# needs the optional extra: pip install -e ".[compare]"
bench-compare:
	$(PYTHON) -m benchmark.bench_compare

benchmark:
	$(PYTHON) -m benchmark run benchmark/configs/quick.toml --out reports/quick

benchmark-paper:
	$(PYTHON) -m benchmark run benchmark/configs/paper.toml --out reports/paper
