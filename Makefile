# Two commands do all set-up on a fresh machine:
#   make app    - create .venv, install requirements.txt, start the explorer on the shipped defaults
#   make test   - create .venv, install requirements.txt, lint (ruff), run the whole test suite
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

# PORT and ADDRESS choose where the explorer listens (default: port 8501 on every address of this machine,
# so students on the same network can open it); it first prints the addresses they can use.
PORT ?= 8501
ADDRESS ?=
app: $(STAMP)
	@$(PY) -m viz_app.lan --port $(PORT) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m streamlit run viz_app/app.py --server.port $(PORT) $(if $(ADDRESS),--server.address $(ADDRESS)) \
		--logger.hideWelcomeMessage true

test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check meshcnn_core viz_app tests benchmarks sample_meshes

bench: $(STAMP)
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_app.py
