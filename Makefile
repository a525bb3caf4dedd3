# drugsim: two commands for a fresh machine with Python 3.11, pip and make.
#   make reproduce   # venv + install + default dataset + notebooks + book (PROFILE=quick by default)
#   make test        # venv + install + the whole test suite (what .ci/run runs)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
DATASET ?= synthetic
# Notebooks run at once by `make reproduce` (each kernel gets cores / JOBS threads); 1 = one after another.
JOBS ?= 2

# torch must be pinned: a looser requirement pulls several GB of CUDA wheels. On x86_64 Linux the pinned
# wheels are on this workplace's local disk; aarch64 gets a CPU build.
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH_PINS ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
endif

.PHONY: install reproduce lab time-reproduce test test-fast browser-deps bench clean-book help

help:
	@echo "make reproduce [PROFILE=tiny|quick|paper] [DATASET=synthetic|grocery|PATH] [JOBS=2]  rerun the study, build the book"
	@echo "make lab                                                              JupyterLab on notebooks/ (the last run's data)"
	@echo "make test                                                             run every test (what CI runs)"
	@echo "make test-fast                                                        skip slow and browser tests"
	@echo "make time-reproduce [PROFILE=tiny]                                    time a whole reproduction from scratch"
	@echo "make bench                                                            speed benchmark (engine vs per-pair)"

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name drugsim --display-name "drugsim (Python 3)" >/dev/null
	touch $@

install: $(VENV)/.installed

# Runs only what changed since the last run (content-hash cache); REPRODUCE_ARGS="--force" reruns all,
# REPRODUCE_ARGS="--only 04_keypoints" one chapter. The book lands in _build/html/index.html.
reproduce: install
	$(VENV)/bin/drugsim reproduce --profile $(PROFILE) --dataset $(DATASET) --jobs $(JOBS) $(REPRODUCE_ARGS)

# JupyterLab on notebooks/ with the project's kernel. A notebook run there by hand reads the last run's data and
# models (runs/last-run.json); LAB_ARGS="--no-browser --port=8899" passes options to jupyter lab. As root (a
# container) Jupyter refuses to start without --allow-root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: install
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --MappingKernelManager.default_kernel_name=drugsim \
	  $(LAB_ROOT) $(LAB_ARGS)

# Wall time of a whole reproduction from an empty run folder (writes benchmarks/results/reproduce-*.json).
time-reproduce: install
	$(PY) benchmarks/time_reproduce.py --profile $(PROFILE) --jobs $(JOBS)

# Headless Chromium for the rendered-book browser test: installed with apt where we are root; elsewhere the
# browser test skips with a message naming the missing package.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver (apt) for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "could not install chromium/chromium-driver: the browser test will skip"; \
	else echo "chromium/chromium-driver missing and not root: the browser test will skip"; fi

test: install browser-deps
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

bench: install
	test -d data/synthetic-quick || $(VENV)/bin/drugsim data synth --preset quick --seed 0 --out data/synthetic-quick
	$(VENV)/bin/drugsim bench --data data/synthetic-quick --json benchmarks/results/bench.json

clean-book:
	rm -rf _build book/generated
