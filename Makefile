# Taste2Vec: two commands on a fresh machine.
#   make run   set up everything, train the demo model if none exists, evaluate it
#   make test  set up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= artifacts/model
STAMP := $(VENV)/.installed
# PyFlink (the Flink SQL job) lives in a venv of its own: it pins numpy/pandas/protobuf/pyarrow.
FLINK_VENV ?= .venv-flink
FLINK_PIN ?= apache-flink==2.3.0
FLINK_STAMP := $(FLINK_VENV)/.installed
# The litert-torch converter (TFLite export) lives in a venv of its own: it downgrades pydantic.
EDGE_VENV ?= .venv-edge
EDGE_STAMP := $(EDGE_VENV)/.installed

# The web UI's browser tests (tests/ui) inject axe-core (MPL-2.0), fetched from npm once.
AXE_VERSION ?= 4.14.1
AXE := .cache/axe-core/package/axe.min.js

.PHONY: run test lint bench install train evaluate clean format edge-venv export soak

install: $(STAMP)

# torch is installed first and pinned exactly: any other version pulls a multi-GB CUDA build.
# [spark]: pyspark for the batch DuckDB/Spark parity test (tests/batch; Java 17, as for Flink).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench,kafka,edge,spark]'
	touch $(STAMP)

# The [flink] extra, in .venv-flink (not the main venv: apache-flink downgrades numpy, pandas and
# protobuf there). src/taste2vec/stream/flink/job.py runs with this interpreter; Java 17 required.
$(FLINK_STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "error: java not found; PyFlink needs Java 17 (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -x $(FLINK_VENV)/bin/python || $(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/pip install --quiet --disable-pip-version-check '$(FLINK_PIN)'
	touch $(FLINK_STAMP)

# The [edge-convert] extra (litert-torch), in .venv-edge; torch pinned first as above.
$(EDGE_STAMP): pyproject.toml
	test -x $(EDGE_VENV)/bin/python || $(PYTHON) -m venv $(EDGE_VENV)
	$(EDGE_VENV)/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(EDGE_VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[edge-convert]'
	touch $(EDGE_STAMP)

edge-venv: $(EDGE_STAMP)

$(AXE):
	mkdir -p .cache/axe-core
	cd .cache/axe-core && npm pack --silent axe-core@$(AXE_VERSION) && tar xzf axe-core-$(AXE_VERSION).tgz

# Edge bundles (TFLite and ONNX, fp32 and int8), gated on parity, into artifacts/edge/.
export: $(STAMP) $(EDGE_STAMP) $(MODEL_DIR)/config.json
	$(BIN)/taste2vec export --format all --model $(MODEL_DIR)

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

test: export T2V_FLINK_PYTHON ?= $(abspath $(FLINK_VENV))/bin/python
test: export T2V_EDGE_CONVERTER_PYTHON ?= $(abspath $(EDGE_VENV))/bin/python
test: $(STAMP) $(FLINK_STAMP) $(EDGE_STAMP) $(AXE)
	command -v chromium >/dev/null || apt-get install -y chromium fonts-noto-cjk \
		|| { apt-get update && apt-get install -y chromium fonts-noto-cjk; }
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The adversarial suite's long profile (docs/limits.md): random seeds for SOAK_SECONDS, split
# between SQLite and PostgreSQL, plus the fixed adversarial tests; prints requests,
# interleavings, invariant checks and violations (also appended to $(SOAK_REPORT)).
SOAK_SECONDS ?= 600
SOAK_REPORT ?= .cache/adversarial-soak.jsonl
soak: $(STAMP)
	mkdir -p $(dir $(SOAK_REPORT))
	T2V_SOAK=1 T2V_SOAK_SECONDS=$(SOAK_SECONDS) T2V_SOAK_REPORT=$(SOAK_REPORT) \
		$(BIN)/python -m pytest -n 0 -s -q tests/adversarial $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) $(EDGE_STAMP) $(MODEL_DIR)/config.json
	$(BIN)/taste2vec evaluate --model $(MODEL_DIR)
	$(BIN)/python bench/lexicon_quality.py
	$(BIN)/python bench/korean_parallel.py --model $(MODEL_DIR)
	$(BIN)/python bench/encode.py --model $(MODEL_DIR)
	$(BIN)/python bench/recommend_quality.py
	$(BIN)/python bench/ann_choice.py
	$(BIN)/python bench/feedback_latency.py
	$(BIN)/python bench/replicas.py
	$(BIN)/python bench/ingest_commit.py
	$(BIN)/python bench/stream_log.py
	$(BIN)/python bench/stream_worker.py
	$(BIN)/python bench/churn.py
	$(BIN)/python bench/batch_engines.py
	$(BIN)/python bench/signals_latency.py --model $(MODEL_DIR)
	$(BIN)/python bench/edge.py --model $(MODEL_DIR)
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/experiment_stats.py
	$(BIN)/python bench/profile_recommend.py
	$(BIN)/python bench/http_threads.py
	$(BIN)/python bench/load_test.py

clean:
	-scripts/postgres.sh stop
	rm -rf $(VENV) $(FLINK_VENV) $(EDGE_VENV) artifacts .cache .pytest_cache .mypy_cache .ruff_cache
