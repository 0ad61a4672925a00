# The two commands of the README: `make book` and `make test`. Each sets up .venv itself
# (created when missing, refreshed when pyproject.toml or this file changed).
PYTHON  ?= python3
PROFILE ?= quick
# torch is pinned here, for development, and not in pyproject.toml: Colab brings its own
TORCH   := torch==2.13.0
VENV    := .venv
BIN     := $(abspath $(VENV)/bin)
STAMP   := $(VENV)/.installed
BUILD   := _build
# papermill's per-cell limit, in seconds
CELL_TIMEOUT ?= 3600

# the kernel papermill and nbval start must be this venv's python
export PATH := $(BIN):$(PATH)

.PHONY: book test lint notebooks bench chromium clean

$(STAMP): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(TORCH)
	$(VENV)/bin/python -m pip install --quiet --editable ".[book,test]"
	touch $@

# from _config.yml and each chapter's .py (what we edit): the README's chapter table, each chapter's
# Colab cell, and its .ipynb (what Colab and the toc open), without outputs
notebooks: $(STAMP)
	$(BIN)/python book/build.py sync

# the browser test (tests/test_browser.py) drives Debian's chromium through Playwright, which
# downloads no browser: install it when it is missing (needs root)
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends chromium)

lint: $(STAMP)
	$(BIN)/ruff check recsae_lite tests book benchmarks
	$(BIN)/ruff format --check recsae_lite tests book benchmarks

# execute every chapter with papermill (stop at the first failure), then render with Jupyter Book 1
book: notebooks
	$(BIN)/python book/build.py stage --out $(BUILD)/src --profile $(PROFILE) --timeout $(CELL_TIMEOUT)
	$(BIN)/python book/build.py render --out $(BUILD)/src
	@echo "book: $(BUILD)/html/index.html"

# unit tests, then every chapter executed with PROFILE=ci (tests/test_book.py writes $(BUILD)/ci;
# and, on the virtual CUDA device of tests/virtual_cuda.py, $(BUILD)/ci-virtual-gpu)
# and the book rendered from them opened in headless chromium (tests/test_browser.py), then nbval
# re-executes those notebooks: a chapter must reproduce itself (each with an empty model zoo, so
# that both train what they use)
test: lint chromium
	$(BIN)/python -m pytest tests
	rm -rf $(BUILD)/nbval-zoo
	RECSAE_ZOO=$(abspath $(BUILD)/nbval-zoo) $(BIN)/python -m pytest -p tests.nbval_plotly \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(BUILD)/ci

# every benchmark in the quick profile (2-core CPU: about 90 min), and in the full profile too when
# a CUDA GPU is present; each writes benchmarks/results/NAME.json (NAME-full.json), which chapter 10 reads
BENCHMARKS := $(filter-out benchmarks/common.py benchmarks/_%.py,$(wildcard benchmarks/*.py))
bench: $(STAMP)
	for script in $(BENCHMARKS); do $(BIN)/python $$script --profile quick || exit 1; done
	if $(BIN)/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		for script in $(BENCHMARKS); do $(BIN)/python $$script --profile full || exit 1; done; \
	fi

clean:
	rm -rf $(BUILD)
