# The README's commands. `make serve` sets everything up and starts the server;
# `make check` runs every test, lint and type check (what CI runs).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: serve check install system-deps lint format typecheck test test-fast test-reliability bench constraints clean

serve: install
	$(VENV)/bin/loquilex serve

check: install system-deps lint typecheck test

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt -e .
	# The speaker encoder's weights ship in resemblyzer's wheel; LoquiLex reads them with numpy,
	# so none of that package's own dependencies (torch, librosa, webrtcvad) are needed.
	$(PY) -m pip install -q --no-deps -c constraints.txt resemblyzer
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(VENV)/bin/ruff check loquilex tests
	$(VENV)/bin/ruff format --check loquilex tests

format: install
	$(VENV)/bin/ruff format loquilex tests
	$(VENV)/bin/ruff check --fix loquilex tests

typecheck: install
	$(VENV)/bin/mypy

test: install
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not model and not reliability"

test-reliability: install
	$(VENV)/bin/pytest -m reliability -s

bench: install
	bash scripts/bench.sh

constraints: install
	{ echo '# Exact versions CI installs: pip install -c constraints.txt -r requirements-dev.txt -e .'; \
	  echo '# Regenerate with `make constraints` after changing requirements*.txt.'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
