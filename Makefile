# make lab   - create .venv if missing, install the course, open JupyterLab on notebooks/ (present live: RISE, Alt+R)
# make html  - the read-only HTML edition in build/html/ (opens from disk, offline)
# make slides - reveal.js slide decks in build/slides/ (open from disk, offline)
# make test  - same set-up, then lint, the unit tests, the docstring examples and every notebook under nbval (strict)
# make unit  - the unit tests and the docstring examples only (no lint, no notebooks)
# make lint  - ruff (lint and format) and mypy
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: install lab lint test unit notebooks nox execute html slides weights bench

# Re-install only when pyproject.toml changes; `rm -r .venv` starts afresh.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# JupyterLab refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# JupyterLab settings for `make lab` only, in build/ (the user's own settings are left alone): no
# "Would you like to get notified about official Jupyter news?" pop-up, no news or update check
# (the course runs offline). tests/test_offline_browser.py starts JupyterLab with these flags.
LAB_SETTINGS := $(CURDIR)/build/lab-settings
LAB_FLAGS := --LabApp.app_settings_dir=$(LAB_SETTINGS) --LabApp.news_url=None
LAB_OVERRIDES := {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}

$(LAB_SETTINGS)/overrides.json: Makefile
	mkdir -p $(LAB_SETTINGS)
	echo '$(LAB_OVERRIDES)' > $@

lab: $(STAMP) $(LAB_SETTINGS)/overrides.json
	$(BIN)/jupyter lab notebooks/ $(LAB_FLAGS) $(ROOT_FLAG)

# Lint and types: ruff's rules and mypy's settings are in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check helpers tests scripts benchmarks conftest.py noxfile.py
	$(BIN)/ruff format --check helpers tests scripts benchmarks conftest.py noxfile.py
	$(BIN)/mypy

# --doctest-modules runs the Examples:: of every module under helpers/ (see conftest.py);
# it finds no doctests in tests/ and leaves nbval's notebooks alone.
test: lint
	HELPERS_PINS=error $(BIN)/python -m pytest tests notebooks $(NBVAL) helpers --doctest-modules

unit: $(STAMP)
	HELPERS_PINS=error $(BIN)/python -m pytest tests helpers --doctest-modules

notebooks: $(STAMP)
	HELPERS_PINS=error $(BIN)/python -m pytest notebooks $(NBVAL)

# nox sessions (noxfile.py): `make nox` = tests on 3.11; make nox ARGS="-s newest" or ARGS="-s tests" (3.11-3.13).
nox: $(STAMP)
	$(BIN)/python -m nox $(ARGS)

# Re-run every notebook and store clean outputs (after changing a notebook or helpers).
execute: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py

# The read-only HTML edition, from the stored notebooks: open build/html/index.html (no server, no network:
# formulas are MathML made at build time).
html: $(STAMP)
	$(BIN)/python scripts/build_html.py build/html

# Slide decks of the stored notebooks (no set-up, self-check or solution cells; reveal.js from vendor/):
# open build/slides/index.html. Slide breaks follow scripts/set_slide_metadata.py's rules.
slides: $(STAMP)
	$(BIN)/python scripts/build_slides.py build/slides

# Rebuild the three shipped models in data/ (simple_cnn_mnist.pt, simple_cnn_shortcut.pt,
# deeper_cnn_mnist.pt) from the MNIST training set, printing accuracy, time and SHA-256 (about 1.5 min on 2 cores).
weights: $(STAMP)
	$(BIN)/python scripts/train_weights.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_saliency.py
