# Two commands do all set-up on a fresh machine:
#   make app    - create .venv, install requirements.txt, start the explorer on the shipped defaults
#   make test   - create .venv, install requirements.txt, run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test lint bench venv

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

app: $(STAMP)
	$(PY) -m streamlit run viz_app/app.py

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check meshcnn_core viz_app tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_app.py
