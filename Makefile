# Spin The Reel: `make demo` and `make test` are the two commands of the README quick start.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STATE := .state
export DAGSTER_HOME ?= $(CURDIR)/$(STATE)/dagster_home
export SPIN_REEL_ARTIFACTS_DIR ?= $(CURDIR)/artifacts
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON ?= $(CURDIR)/$(VENV)/bin/python
APT_PACKAGES := openjdk-17-jre-headless libpostgresql-jdbc-java libopenblas0-pthread postgresql
TEST_APT_PACKAGES := chromium wrk docker-compose

.PHONY: demo test test-fast lock venv provision provision-test stores stop-stores materialize rebuild web bench bench-ingest bench-web bench-scale clean

# constraints.txt pins the tested set of every dependency: make, CI and the Dockerfile all install from it.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# After changing dependencies in pyproject.toml: install them, then pin what was installed (and tested).
lock:
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

venv: $(VENV)/.installed

# Installs the system packages that are missing (Debian/Ubuntu; as root or with sudo).
provision:
	@bash scripts/provision.sh $(APT_PACKAGES)

provision-test:
	@bash scripts/provision.sh $(APT_PACKAGES) $(TEST_APT_PACKAGES)

stores: venv
	@mkdir -p $(DAGSTER_HOME) && touch $(DAGSTER_HOME)/dagster.yaml  # empty: SQLite storage in DAGSTER_HOME
	@$(PY) -m spin_reel_assets.devtools.devstores start

stop-stores:
	@$(PY) -m spin_reel_assets.devtools.devstores stop

# Observes the input files and materializes what is missing or unsynced: everything on a fresh instance.
materialize rebuild: provision stores
	$(VENV)/bin/spin-reel rebuild

demo: provision stores materialize
	@bash scripts/serve.sh

test: provision-test venv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg check defs
	$(PY) -m pytest -q

# The part of the suite that needs no store, Spark or browser (seconds, not minutes).
test-fast: venv
	$(PY) -m pytest -q -m "not stores and not spark and not browser"

web: venv
	SPIN_REEL_WEB_BIND=$${SPIN_REEL_WEB_BIND:-127.0.0.1:5000} $(VENV)/bin/gunicorn -c spin_reel_web/gunicorn.conf.py 'spin_reel_web:create_app()'

# Benchmarks print figures (time, throughput, memory, ratios to a reference measured in the same run).
bench: provision stores
	$(PY) bench/models.py --als-ratings 0 5000000

bench-ingest: provision stores
	$(PY) bench/ingest.py

bench-scale: provision stores
	$(PY) bench/scale.py --sizes 1000000 5000000 25000000

bench-web: provision-test stores
	$(PY) bench/web.py

clean:
	rm -rf $(STATE) artifacts test-artifacts

# The web app at real scale: 162k users x 1M movies beside the sample, same run (see bench/web.py --scale).
.PHONY: bench-web-scale
bench-web-scale: provision-test stores
	$(PY) bench/web.py --scale
