# The course's commands. Each creates .venv on first use (or when pyproject.toml changes), then does its job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# An offline kit (make wheelhouse, or one copied from a USB stick) in $(KIT): installs come from it, never the network.
KIT ?= wheels
KIT_FILE := $(wildcard $(KIT)/KIT.json)
# The install stamp is named by a hash of what was installed (pyproject.toml's content, the kit's KIT.json, this
# folder's path), not by a file time: a git pull or a copy that only changes times reinstalls nothing, a move does.
INSTALL_KEY := $(shell cat pyproject.toml $(KIT_FILE) | $(PYTHON) -c 'import hashlib, os, sys; print(hashlib.sha256(sys.stdin.buffer.read() + os.getcwd().encode()).hexdigest()[:16])')
STAMP := $(VENV)/.installed-$(INSTALL_KEY)

# run and test use the embedded sample, so their numbers are the same everywhere
# (make run SOURCE=auto to use full MNIST); make lab lets the package choose (auto).
SOURCE ?= sample

.PHONY: run test check lab bench format clean chromium
# pytest-xdist's workers: one per core (make test WORKERS=0 runs the suite in one process).
WORKERS ?= auto

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifneq ($(KIT_FILE),)
	$(BIN)/python -m pip install --quiet --no-index --find-links $(KIT)/wheels -e .
else
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
endif
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	MNIST_TUTORIAL_SOURCE=$(SOURCE) MNIST_TUTORIAL_PROGRESS=text $(BIN)/python tools/run_course.py

test: $(STAMP) chromium room-proxy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(NOTEBOOK_ENV) $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup --durations=15

# The quick loop while editing a module: lint, format and the unit tests; no notebook, browser or wheel (make test
# runs those). See CONTRIBUTING.md.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(NOTEBOOK_ENV) $(BIN)/python -m pytest -o addopts=-ra -n $(WORKERS) -m "not browser and not wheel and not slow" \
		--durations=5 tests/

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

# As root (containers, hosted VMs) JupyterLab needs --allow-root. ROOM=1 is the workshop's room setting: every
# laptop uses the embedded sample and never touches the network (the same as MNIST_TUTORIAL_SOURCE=sample and
# MNIST_TUTORIAL_OFFLINE=1 in the environment, which lab passes on too), and JupyterLab opens the practice copies
# in build/student/ (no solutions), written once: a later `make lab ROOM=1` keeps what the learner wrote there.
# python -m: a moved .venv still starts.
lab: $(STAMP)
	$(if $(ROOM),test -d build/student || $(BIN)/python tools/make_student.py build/student)
	$(if $(ROOM),MNIST_TUTORIAL_SOURCE=sample MNIST_TUTORIAL_OFFLINE=1) $(BIN)/python -m jupyterlab \
		$(if $(ROOM),build/student/,notebooks/) $$([ "$$(id -u)" -eq 0 ] && echo --allow-root)

# The workshop's JupyterHub on this machine (docs/room.md): the practice copies written afresh for it, JupyterHub's
# proxy from npm unless one is on PATH. ROOM_FLAGS="--public --password ..." passes flags; ROOM_FLAGS=--clean
# removes the students' accounts after the workshop.
.PHONY: room room-proxy
ROOM_PROXY := build/room-proxy/node_modules/.bin
room: $(STAMP) room-proxy
	$(BIN)/python tools/make_student.py build/room-practice
	PATH="$(CURDIR)/$(ROOM_PROXY):$$PATH" $(BIN)/python -m mnist_tutorial room --practice build/room-practice $(ROOM_FLAGS)

room-proxy:
	@command -v configurable-http-proxy >/dev/null || test -x $(ROOM_PROXY)/configurable-http-proxy || \
		npm install --prefix build/room-proxy --no-audit --no-fund --loglevel=error configurable-http-proxy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py --pipelines all

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf build runs .pytest_cache .ruff_cache

# What nbval's kernels see under make test (the sample, the CPU, no network, text progress).
NOTEBOOK_ENV := MNIST_TUTORIAL_OFFLINE=1 MNIST_TUTORIAL_SOURCE=sample MNIST_TUTORIAL_DEVICE=cpu MNIST_TUTORIAL_PROGRESS=text

# Every dependency at the lowest version pyproject.toml declares (constraints generated from it, never kept
# by hand), then what make test runs: ruff, the unit tests and nbval. Not part of make test: the first
# install downloads a few GB (PyTorch with its CUDA libraries).
.PHONY: test-oldest
OLDEST := .venv-oldest
test-oldest: chromium
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(PYTHON) tools/oldest_constraints.py pyproject.toml $(OLDEST)/constraints.txt
	$(OLDEST)/bin/python -m pip install --quiet -c $(OLDEST)/constraints.txt -e ".[dev]"
	$(OLDEST)/bin/python -m pip list --format=freeze | grep -iE '^(torch|torchvision|numpy|jupyterlab|pytest|nbval)=='
	$(OLDEST)/bin/ruff check .
	$(OLDEST)/bin/ruff format --check .
	$(NOTEBOOK_ENV) $(OLDEST)/bin/python -m pytest

# The suite under other processors' code paths, emulated on this one: MKL's, oneDNN's and ATen's kernels picked as on
# an old SSE-only CPU, an AVX laptop, an AVX2 one and an AVX-512 server, with one and two threads. Each path runs the
# unit tests and nbval over every notebook against the committed outputs (never re-executed here); a failure names
# its path. Not part of make test (about four times its notebook time); the GitHub workflow runs it on Linux.
PORTABLE_PATHS ?= \
	"ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=default MKL_CBWR=AVX ONEDNN_MAX_CPU_ISA=AVX OMP_NUM_THREADS=2" \
	"ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=avx512 MKL_CBWR=AVX512 ONEDNN_MAX_CPU_ISA=AVX512_CORE OMP_NUM_THREADS=2"
.PHONY: test-portable
test-portable: $(STAMP)
	@failed=""; for path in $(PORTABLE_PATHS); do \
		echo "== $$path"; started=$$(date +%s); \
		env $$path $(NOTEBOOK_ENV) $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup -q \
			-m "not browser and not wheel" || failed="$$failed\n  $$path"; \
		echo "== $$path: $$(( $$(date +%s) - started )) s"; \
	done; \
	if [ -n "$$failed" ]; then printf "test-portable failed under:$$failed\n"; exit 1; fi

# The maintainer's loop: edit a notebook, make notebooks (re-execute every notebook in place, solutions
# included, exactly as nbval checks them), make test. See CONTRIBUTING.md.
.PHONY: notebooks
notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py

# The lesson notebooks with their outputs cleared and without the solutions, for a teacher to hand out.
.PHONY: student
student: $(STAMP)
	$(BIN)/python tools/make_student.py build/student

# The offline workshop kit in $(KIT) (wheels/): this OS, CPU and Python's wheels, the course's own, the student
# copies of the notebooks, full MNIST when present, install.sh and start.sh. TORCH=default keeps PyPI's torch (with
# CUDA on Linux); the default is PyTorch's CPU-only wheels where they exist. See docs/teaching.md.
.PHONY: wheelhouse kit-check
wheelhouse: $(STAMP)
	$(BIN)/python tools/kit.py $(KIT) $(if $(TORCH),--torch $(TORCH))

# The kit as a laptop gets it (not part of make test: it builds the real kit, about 0.35 GB or 3 GB): build it, then
# install it offline into a folder with a space in its name (in a network namespace with only loopback, as root),
# run the laptop check (doctor --run-notebook) and the printed start command, and stop JupyterLab once it answers.
KIT_LAPTOP := build/kit-check/laptop ✓ café
kit-check: wheelhouse
	rm -rf build/kit-check && mkdir -p build/kit-check
	$(BIN)/python tools/kit.py $(KIT) --check --laptop "$(KIT_LAPTOP)"

# The course as a static website in build/site/ (offline): every notebook with its committed outputs, the README as
# the front page, the learning path as navigation, and the draw page of a network trained on the embedded sample.
.PHONY: site
site: $(STAMP)
	$(NOTEBOOK_ENV) $(BIN)/python tools/build_site.py --out build/site
