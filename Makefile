PYTHON ?= python
# The CPU wheel keeps installs small; a CUDA torch already installed is left as it is.
TORCH_SPEC ?= torch==2.13.0
# The paper profile's parts (benchmark/configs/paper/PART.toml; `all`: every part's targets in one
# suite, for a GPU or many cores), and extra arguments of the run,
# e.g. make benchmark-paper PART=hd64 ARGS="--device cuda"
PAPER_PARTS := 2d hd16 hd32 hd64 all
PART ?=
ARGS ?=

.PHONY: install constraints test test-all lint bench-micro bench-compare benchmark benchmark-tuned \
	benchmark-grid benchmark-converged benchmark-paper report reference

# the tested dependency versions of constraints.txt (refresh them: make constraints)
install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -c constraints.txt -e ".[dev]"

# the newest release of every dependency, in a new virtual environment: the tests run there, and
# constraints.txt is rewritten only if they pass
constraints:
	TORCH_SPEC="$(TORCH_SPEC)" tools/refresh-constraints

test:
	$(PYTHON) -m pytest

test-all:
	$(PYTHON) -m pytest -m "slow or not slow"

lint:
	$(PYTHON) -m ruff check benchmark baselines tests tools/bench_compare.py

bench-micro:
	$(PYTHON) -m pytest tests/benchmarks -m "slow or not slow" -o addopts="" --benchmark-only

# needs the optional extra: pip install -e ".[compare]"
bench-compare:
	$(PYTHON) tools/bench_compare.py

# The benchmark trains afresh into results/ (ignored by git; rerun to resume) and then says, per
# target and method, whether this machine's numbers agree with the committed reference in reports/
# within the seeds' spread. `make reference` regenerates a committed reference itself, `make report`
# rebuilds its report from its records. PROFILE: quick (default), tuned, grid, converged, or paper/PART.
PROFILE ?= quick

benchmark:
	$(PYTHON) -m benchmark run benchmark/configs/quick.toml --out results/quick $(ARGS)
	$(PYTHON) -m benchmark compare results/quick reports/quick

# the quick profile's tuning run: every method's small learning-rate grid (and Langevin steps) on
# its targets at its budget; 36 minutes on 2 cores (the budget is in the config's header)
benchmark-tuned:
	$(PYTHON) -m benchmark run benchmark/configs/tuned.toml --out results/tuned $(ARGS)
	@if [ -d reports/tuned ]; then $(PYTHON) -m benchmark compare results/tuned reports/tuned; fi

# the two-mode grid, dimension × separation, both tracks (the EBM; its sampler on the true energy);
# ≤ 60 minutes on 2 cores (the budget is in the config's header)
benchmark-grid:
	$(PYTHON) -m benchmark run benchmark/configs/grid.toml --out results/grid $(ARGS)
	@if [ -d reports/grid ]; then $(PYTHON) -m benchmark compare results/grid reports/grid; fi

# Jarzynski ULA, PT-EBM and DSM beside flowMC-EBM, ULA-EBM and the oracle, trained to settle
# (1500 iterations), tuned at that budget, on four_modes and hd16
benchmark-converged:
	$(PYTHON) -m benchmark run benchmark/configs/converged.toml --out results/converged $(ARGS)
	@if [ -d reports/converged ]; then $(PYTHON) -m benchmark compare results/converged reports/converged; fi

benchmark-paper:
	@if [ -z "$(filter $(PART),$(PAPER_PARTS))" ] || [ "$(words $(PART))" != 1 ]; then \
		echo "usage: make benchmark-paper PART=<one of: $(PAPER_PARTS)> [ARGS=...]" >&2; exit 2; fi
	$(PYTHON) -m benchmark run benchmark/configs/paper/$(PART).toml --out results/paper/$(PART) $(ARGS)
	@if [ -d reports/paper/$(PART) ]; then \
		$(PYTHON) -m benchmark compare results/paper/$(PART) reports/paper/$(PART); fi

report:
	$(PYTHON) -m benchmark report reports/$(PROFILE)

# trains into results/reference/PROFILE (resumable: rerun after an interruption), then replaces
# reports/PROFILE with it (failed runs are results too: read the report's counts before committing;
# git restores the old reference if needed)
reference:
	$(PYTHON) -m benchmark run benchmark/configs/$(PROFILE).toml --out results/reference/$(PROFILE) $(ARGS)
	rm -rf reports/$(PROFILE)
	mkdir -p $(dir reports/$(PROFILE))
	cp -r results/reference/$(PROFILE) reports/$(PROFILE)
