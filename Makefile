# famdoc_lab — the two commands a new user needs: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
SCALE   ?= 0.01

.PHONY: demo stop-demo test venv export nbtest pytest bench clean

$(BIN)/famdoc-lab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

venv: $(BIN)/famdoc-lab

## make demo — venv, install, synthetic data at small scale, ingest, and every later stage that exists
demo: venv
	$(BIN)/famdoc-lab demo --scale $(SCALE) --out data/demo

## make test — nbdev-export leaves git clean, nbdev-test, pytest
test: venv export nbtest pytest

export: venv
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- famdoc_lab)" ]; then \
	  git status --short -- famdoc_lab; \
	  echo "nbdev-export changed famdoc_lab/: edit the notebooks, export, commit"; exit 1; fi

nbtest: venv
	cd nbs && ../$(BIN)/nbdev-test --n-workers 2 --timing

pytest: venv
	$(BIN)/pytest -q -ra

bench: venv
	$(BIN)/famdoc-lab bench --scale 0.01 0.1

## make stop-demo — stop the dashboards `make demo` left running
stop-demo:
	-@for f in data/demo/dashboard.pid data/demo/dashboard-clinic.pid; do [ -f $$f ] && kill -- -$$(cat $$f) 2>/dev/null; rm -f $$f; done; true

clean: stop-demo
	rm -rf data/demo outputs/bench
