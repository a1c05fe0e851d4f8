# Every target sets itself up: a fresh clone needs nothing but python3 and make.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo clean openapi bench bench-quick lock

# Exactly the versions CI tested: the lock file (hashes required), then the project itself without dependencies.
$(STAMP): pyproject.toml requirements-test.lock
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-test.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Regenerate both lock files from pyproject.toml (pip-tools), after changing a dependency. Renovate keeps them
# current otherwise (renovate.json).
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet 'pip-tools>=7.4,<8'
	$(PIP_COMPILE) --extra redis -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra redis --extra test --extra contract -o requirements-test.lock pyproject.toml

run: $(STAMP)
	$(BIN)/crm-provider serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The committed OpenAPI document, regenerated from the schemas (no database needed).
openapi: $(STAMP)
	FLASK_APP=crm_provider.contract.openapi:build_app $(BIN)/flask openapi write openapi/openapi.json

demo: $(STAMP)
	$(BIN)/crm-provider demo

# The benchmark of issue 7 (docs/bench.md). Installs wrk with apt-get when missing. More options:
# make bench BENCH_ARGS="--sizes 100000,1000000"
bench: $(STAMP)
	$(BIN)/python -m bench --sizes 1000000 --duration 10 --warmup 2 $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --sizes 100000 --duration 3 --warmup 1 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .crm-data .pytest_cache
