# Gradient Clinic. Each target creates .venv when it is missing and installs
# the project into it; the stamp file makes a second run cost seconds.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
PORT   ?= 8501
JOBS   ?= 2  # test processes: the lessons train on one thread each, the browser tests mostly wait

.PHONY: run test lint bench setup clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $(BENCH_STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m engine.cli ui --port $(PORT)

# Lint first: a style or type error fails in seconds, before the minutes of tests.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -n $(JOBS) --dist loadscope --durations=15

bench: $(BENCH_STAMP)
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/store.py
	$(PY) benchmarks/lessons.py
	$(PY) benchmarks/diagnosis.py
	$(PY) benchmarks/remedy_evidence.py
	$(PY) benchmarks/ui_render.py --no-browser
	$(PY) benchmarks/ui_latency.py
	$(PY) benchmarks/sweep_overhead.py
	$(PY) benchmarks/tuning_lessons.py
	$(PY) benchmarks/cross_validation.py
	$(PY) benchmarks/explain.py
	$(PY) benchmarks/compress.py
	$(PY) benchmarks/input_pipeline.py
	$(PY) benchmarks/gpu.py
	$(PY) benchmarks/cross_validation.py --lesson
	$(PY) benchmarks/ensembles.py

clean:
	rm -rf $(VENV) .pytest_cache
