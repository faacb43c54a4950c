# recfast: `make demo` trains on MovieLens 100K and shows results; `make test` runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= $(abspath $(CURDIR)/../shared/data)
# Offline machines: serve fastai's datasets from ../shared/data instead of downloading them.
ifneq ($(wildcard $(SHARED)/ml-100k/u.data),)
export FASTAI_HOME := $(CURDIR)/.fastai_home
endif
export PYTHONPATH := $(CURDIR)
export MPLBACKEND := Agg
EPOCHS ?= 5

.PHONY: install data demo test test-nbs test-nbdev test-py test-docs check-export docs bench bench-report clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,docs]'
	@# headless Chromium for tests/test_browser.py and KaTeX for the docs' math, from Debian, where apt-get can run
	@if { ! command -v chromium >/dev/null || ! test -f /usr/share/javascript/katex/katex.min.js; } && command -v apt-get >/dev/null \
	    && [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver libjs-katex >/dev/null; } || echo "could not install chromium/libjs-katex: the browser test will be skipped"; fi
	touch $@

install: $(VENV)/.installed

data:
ifdef FASTAI_HOME
	mkdir -p $(FASTAI_HOME)/data
	for d in $(SHARED)/*/; do ln -sfn "$${d%/}" "$(FASTAI_HOME)/data/$$(basename $$d)"; done
endif

demo: install data
	$(VENV)/bin/recfast train --data ml-100k --arch dot --epochs $(EPOCHS) --bs 64 --lr 5e-3 --out out

check-export: install
	$(VENV)/bin/nbdev-export
	@git diff --quiet -- recfast || { git --no-pager diff --stat -- recfast; echo "recfast/ is out of sync with nbs/: run nbdev-export and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- recfast)" || { git status --porcelain -- recfast; echo "nbdev-export created files that are not committed"; exit 1; }

# Every notebook executed once, as nbdev-test does (same skip flags, fresh shells, 2 workers; the first failing cell
# stops it, naming the notebook and the cell), and the executed pages built into the site in _docs/, which
# tests/test_docs.py and tests/test_browser.py then check without building it again.
test-nbs: install data
	$(PY) tools/build_docs.py --no-readme

# nbdev's own notebook runner (test-nbs runs the same cells and keeps their outputs for the site)
test-nbdev: install data
	$(VENV)/bin/nbdev-test --n-workers 2

# pytest-xdist: one test file per worker at a time (module fixtures train once), PYTEST_WORKERS=0 for one process
PYTEST_WORKERS ?= 2
test-py: install data
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=15 tests

# the site and what a reader sees of it alone (builds it when the sources changed since the last build)
test-docs: install data
	$(PY) -m pytest -q tests/test_docs.py tests/test_browser.py

test: check-export test-nbs test-py

# the documentation site into _docs/ (mkdocs-material + mkdocs-jupyter, notebooks executed; see tools/build_docs.py)
docs: install data
	$(PY) tools/build_docs.py

bench: install data
	$(PY) bench/run_all.py

# render bench/results/REPORT.md (the docs' Benchmarks page) and each <name>.md from the saved rows, rerunning nothing
bench-report: install
	$(PY) bench/run_all.py --report-only

clean:
	rm -rf _docs _proc _docs_screens out .fastai_home
