# The course's commands. Each creates .venv on first use (or when pyproject.toml changes), then does its job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# run and test use the embedded sample, so their numbers are the same everywhere
# (make run SOURCE=auto to use full MNIST); make lab lets the package choose (auto).
SOURCE ?= sample

.PHONY: run test lab bench format clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(STAMP)
	MNIST_TUTORIAL_SOURCE=$(SOURCE) MNIST_TUTORIAL_PROGRESS=text $(BIN)/python tools/run_course.py

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MNIST_TUTORIAL_OFFLINE=1 MNIST_TUTORIAL_SOURCE=sample MNIST_TUTORIAL_DEVICE=cpu MNIST_TUTORIAL_PROGRESS=text \
		$(BIN)/python -m pytest

# The browser tests drive Debian's Chromium (never Playwright's own download): install it where it is missing.
# Without apt-get, say so; the browser tests then fail with the same advice (or: pytest -m "not browser").
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ -z "$$MNIST_TUTORIAL_CHROMIUM" ]; then \
		if command -v apt-get >/dev/null; then \
			sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
			$$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends chromium; \
		else \
			echo "No /usr/bin/chromium and no apt-get: install Chromium and set MNIST_TUTORIAL_CHROMIUM to it."; \
		fi; \
	fi

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf build runs .pytest_cache .ruff_cache
