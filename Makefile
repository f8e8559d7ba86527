# Taste2Vec: two commands on a fresh machine.
#   make run   set up everything, train the demo model if none exists, evaluate it
#   make test  set up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= artifacts/model
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install train evaluate clean format

install: $(STAMP)

# torch is installed first and pinned exactly: any other version pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $(STAMP)

# First run: train the demo model, then print its evaluation once.
$(MODEL_DIR)/config.json: | $(STAMP)
	$(BIN)/taste2vec train --out $(MODEL_DIR)
	$(BIN)/taste2vec evaluate --if-data --model $(MODEL_DIR)

train: $(STAMP)
	$(BIN)/taste2vec train --out $(MODEL_DIR)

evaluate: $(STAMP) $(MODEL_DIR)/config.json
	$(BIN)/taste2vec evaluate --model $(MODEL_DIR)

run: $(STAMP) $(MODEL_DIR)/config.json
	$(BIN)/taste2vec serve --model $(MODEL_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) $(MODEL_DIR)/config.json
	$(BIN)/taste2vec evaluate --model $(MODEL_DIR)
	$(BIN)/python bench/lexicon_quality.py
	$(BIN)/python bench/encode.py --model $(MODEL_DIR)
	$(BIN)/python bench/recommend_quality.py
	$(BIN)/python bench/ann_choice.py
	$(BIN)/python bench/feedback_latency.py
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/http_load.py

clean:
	-scripts/postgres.sh stop
	rm -rf $(VENV) artifacts .cache .pytest_cache .mypy_cache .ruff_cache
