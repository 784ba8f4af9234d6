# kaartlaag: `make demo` (build the demo region and serve it) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
STAMP := $(VENV)/.installed
# The map's JavaScript bundle (web/, OpenLayers from npm, bundled with esbuild; served at /map).
WEB_STAMP := services/static/map/.built

.PHONY: demo demo-data demo-build serve test lint typecheck clean web

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	# rvt-py is the reference tool for the sky view factor tests and bench; it declares a GDAL
	# Python binding it never imports for rvt.vis, which does not build without GDAL headers.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt rvt-py
	touch $(STAMP)

## web: install the map's npm packages (exact versions from web/package-lock.json) and bundle them
$(WEB_STAMP): web/package.json web/package-lock.json $(wildcard web/src/*)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $(WEB_STAMP)

web: $(WEB_STAMP)

## demo: create .venv, generate the demo region, build every layer, serve on http://127.0.0.1:8000
demo: demo-build $(WEB_STAMP)
	$(BIN)/kaartlaag serve --catalog $(DEMO_DIR)/catalog --host 127.0.0.1 --port 8000

$(DEMO_DIR)/kaartlaag.yaml: $(STAMP)
	$(BIN)/kaartlaag demo-data $(DEMO_DIR)

demo-data: $(DEMO_DIR)/kaartlaag.yaml

demo-build: demo-data
	$(BIN)/kaartlaag build --config $(DEMO_DIR)/kaartlaag.yaml

## test: install what the tests need and run them
# With bytecode writes allowed (some machines set PYTHONDONTWRITEBYTECODE=1), pytest keeps the
# assertion-rewritten test and plugin modules (schemathesis: a few hundred) between runs instead of
# rewriting them at every collection: about 10 s a run on two cores.
test: $(STAMP) $(WEB_STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check geo layers tiles services styles tests bench

typecheck: $(STAMP)
	$(BIN)/mypy geo layers tiles services styles

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache services/static/map web/node_modules test-artifacts
