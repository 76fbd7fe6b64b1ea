# Everything a fresh machine needs: `make demo` and `make test` create .venv and install into it.
# The interpreter .venv is built on: the system's python3 when it can (see scripts/python.sh:
# Debian's build runs mailtrace 3-13% faster than pyenv's here), else python3; PY=… overrides.
PY ?= $(shell scripts/python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest system-deps clean bench

$(STAMP): pyproject.toml setup.py mailtrace/logs/_fastlog.c mailtrace/_parquet_pages.c mailtrace/_pathcore.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# System packages the tests use for real: pflogsumm (benchmark yardstick), dnsmasq (DNS tests),
# chromium (HTML report tests). Installed only when missing; needs root and apt.
system-deps:
	@bash scripts/system-deps.sh

# A tour of mailtrace on sample_data/; files it writes go to out/ (HTML report, charts, dataset).
demo: $(STAMP)
	mkdir -p out
	$(BIN)/mailtrace headers sample_data/messages/postfix-relay-tls.eml sample_data/messages/clock-skew.eml
	$(BIN)/mailtrace logs sample_data/logs/ -o out/dataset --year 2026 --force
	$(BIN)/mailtrace report sample_data/logs/report_day.log --html out/report.html --plot out/report.png --force
	$(BIN)/mailtrace path 1A2B3C4D01 sample_data/logs/report_day.log
	$(BIN)/mailtrace failures sample_data/logs/report_day.log
	$(BIN)/mailtrace bounce sample_data/bounces/
	$(BIN)/mailtrace transcript sample_data/transcripts/swaks-rcpt-550.txt
	$(BIN)/mailtrace trace sample_data/trace/message.eml --logs sample_data/trace/mx1.example.org.log sample_data/trace/mx.example.net.mainlog
	@echo "demo: wrote out/report.html, out/report.png and the Parquet dataset out/dataset/"

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
