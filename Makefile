# Everything a fresh machine needs: `make demo` and `make test` create .venv and install into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest system-deps clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# System packages the tests use for real: pflogsumm (benchmark yardstick), dnsmasq (DNS tests),
# chromium (HTML report tests). Installed only when missing; needs root and apt.
system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/mailtrace headers sample_data/messages/
	$(BIN)/mailtrace logs sample_data/logs/

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest
	$(BIN)/pytest --nbmake --nbmake-timeout=300 notebooks/

test: system-deps lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_logs.py
	$(BIN)/python benchmarks/bench_headers.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
