# heapviz: `make demo` sets everything up and writes a real result from a bundled example;
# `make test` runs the tests. Both install what they need (Debian packages when missing, Python
# packages in .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
EXAMPLES := $(BUILD)/examples
# Two workers, a test file each at a time (module fixtures stay in one process): the suite waits on
# subprocesses, Graphviz, valgrind and Chromium much of the time, so two workers on two cores
# take about two thirds of one's time. PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: setup setup-test demo test bench fuzz lint examples clean wheel

$(VENV)/.installed: pyproject.toml setup.py heapviz/formats/_heapscan.c heapviz/graph/_groupby.c heapviz/report/_prefix.c heapviz/_compiled.h
	scripts/install-deps.sh runtime
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: setup
	scripts/install-deps.sh test

examples: setup
	$(MAKE) -C examples OUT=$(abspath $(EXAMPLES))

demo: examples
	@echo
	@echo '== heapviz top $(EXAMPLES)/cxx.0002.heap'
	$(VENV)/bin/heapviz top $(EXAMPLES)/cxx.0002.heap
	$(VENV)/bin/heapviz graph $(EXAMPLES)/cxx.0002.heap -o $(BUILD)/demo-graph.svg
	$(VENV)/bin/heapviz report $(EXAMPLES)/cxx.0002.heap -o $(BUILD)/demo-leak.html -o $(BUILD)/demo-leak.pdf
	$(VENV)/bin/heapviz report $(EXAMPLES)/threads.000*.heap -o $(BUILD)/demo-series.html
	$(VENV)/bin/heapviz flame $(EXAMPLES)/cxx.0002.heap -o $(BUILD)/demo-flame.svg
	$(VENV)/bin/heapviz report $(EXAMPLES)/cpu_api.prof -o $(BUILD)/demo-cpu.html
	@echo '== wrote $(BUILD)/demo-graph.svg, $(BUILD)/demo-leak.html, $(BUILD)/demo-leak.pdf, $(BUILD)/demo-series.html, $(BUILD)/demo-flame.svg, $(BUILD)/demo-cpu.html'
	@echo
	@echo '== Your own profiles (HEAPPROFILE=/tmp/app LD_PRELOAD=libtcmalloc.so.4 ./app writes /tmp/app.0001.heap ...):'
	@echo '   $(VENV)/bin/heapviz top /tmp/app.0003.heap'
	@echo '   $(VENV)/bin/heapviz report /tmp/app.*.heap -o leak.html -o leak.pdf -o summary.md'
	@echo '   $(VENV)/bin/heapviz doctor                  # what heapviz finds on this machine'
	@echo '   Put heapviz on PATH with: pipx install .   (or pip install . in a virtual environment; README: Install)'

# A wheel for machines without the checkout (pip install dist/heapviz-*.whl there). It holds the
# compiled parts built for this Python and platform, or none where they could not be compiled.
wheel: setup
	rm -f dist/heapviz-*.whl
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .
	@ls dist/heapviz-*.whl

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

fuzz: setup-test
	HEAPVIZ_FUZZ_EXAMPLES=$${HEAPVIZ_FUZZ_EXAMPLES:-20000} $(PY) -m pytest -q tests/test_fuzz.py

# Issue 9's benchmark: real heap-checker profiles of 10k/100k/250k stacks from a generated
# program, heapviz against go tool pprof, google-pprof and pprof (binutils). BENCH_ARGS=--quick
# for a smoke run; see `$(PY) bench/run.py --help`. Artefacts are cached in $(BUILD)/bench.
# heapviz's bytecode is compiled first, as pip does when it installs a wheel: an editable checkout
# run with PYTHONDONTWRITEBYTECODE=1 (as on these machines) would otherwise compile its ~90
# modules from source on every run, 0.2 s of a 2 s report.
BENCH_ARGS ?=
bench: setup-test
	$(PY) -m compileall -q heapviz
	$(PY) bench/run.py --out $(BUILD)/bench $(BENCH_ARGS)

lint: setup
	$(PY) -m pip install -q ruff mypy
	$(VENV)/bin/ruff check heapviz tests
	$(VENV)/bin/mypy heapviz

clean:
	rm -rf $(BUILD) .pytest_cache
	$(MAKE) -C examples clean OUT=$(abspath $(EXAMPLES))
