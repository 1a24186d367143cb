# Two commands on a fresh machine: `make run` and `make test` (README quick start).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test check bench faults clean screenshots firmware-test deb deb-test boot-test bundle bundle-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

run: $(STAMP)
	$(PY) -m kiosk $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# Habits checked by machine: lint and import order (ruff), types (mypy, strict on core and protocol), layers.
check: $(STAMP)
	$(VENV)/bin/ruff check kiosk tests bench main.py firmware/tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The firmware's logic on this machine (firmware/README.md): host tests, the energy board's AVR build with its size,
# and the host builds run against the real hub. Installs the compilers it needs (firmware/deps.sh).
firmware-test: $(STAMP)
	bash firmware/deps.sh
	$(MAKE) -C firmware test avr host
	$(PY) -m pytest -q -p no:cacheprovider firmware/tests

# The Debian package (packaging/deb/build.sh) into dist/; deb-test installs it here (root), tries it and purges it,
# then boot-test installs it in this system booted in a container, to see what systemd does with its units.
deb: $(STAMP)
	bash packaging/deb/build.sh
deb-test: deb
	bash packaging/deb/test.sh
	bash packaging/deb/boot-test.sh
boot-test: deb
	bash packaging/deb/boot-test.sh

# A one-folder PyInstaller build (packaging/bundle/build.sh) into dist/front-desk-kiosk/; bundle-test runs the same
# smoke test as the package's from it.
bundle: $(STAMP)
	bash packaging/bundle/build.sh
bundle-test: bundle
	$(PY) packaging/smoke.py dist/front-desk-kiosk/front-desk-kiosk --window

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/startup.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/ingest.py
	$(PY) bench/broker.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/stalls.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/lockers.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/energy.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/admin.py
	$(PY) bench/security.py

faults: $(STAMP)
	$(PY) bench/faults.py $(ARGS)

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.screenshots docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info
