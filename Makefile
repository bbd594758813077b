# `make demo`: build release/ and solutions/, then grade the bundled demo class.
# `make test`: the test suite; `make check`: its fast tier (no generated course), for the loop while editing. Both create .venv (with the [cluster] extra) and install the Debian tools they need on first use.
VENV := .venv
BIN := $(VENV)/bin
# nbgrader needs alembic (a console script of the venv) on PATH when it creates a gradebook
export PATH := $(abspath $(BIN)):$(PATH)
# Debian packages are installed as root, or through sudo
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: demo test check release clean-class

$(BIN)/.installed: pyproject.toml | /usr/share/doc/python3-venv
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	touch $@

# bubblewrap confines the kernels that run student code; chromium renders feedback in a test
/usr/bin/bwrap:
	$(APT) update -qq && $(APT) install -y -qq bubblewrap

/usr/bin/chromium:
	$(APT) update -qq && $(APT) install -y -qq chromium

# the leak checks read the text of the images in feedback, as a person would
/usr/bin/tesseract:
	$(APT) update -qq && $(APT) install -y -qq tesseract-ocr

# the cluster tests run a real PostgreSQL server for the shared gradebook
/usr/lib/postgresql:
	$(APT) update -qq && $(APT) install -y -qq postgresql

# Debian's python3 makes a venv only with python3-venv; the sandbox tests also build one for the
# ordinary user they create, from /usr/bin/python3
/usr/share/doc/python3-venv:
	$(APT) update -qq && $(APT) install -y -qq python3-venv

demo: $(BIN)/.installed /usr/bin/bwrap
	$(BIN)/nnlab demo

release: $(BIN)/.installed
	$(BIN)/nnlab release

test: $(BIN)/.installed /usr/bin/bwrap /usr/bin/chromium /usr/bin/tesseract /usr/share/doc/python3-venv /usr/lib/postgresql
	$(BIN)/python -m pytest

check: $(BIN)/.installed /usr/bin/bwrap /usr/bin/chromium /usr/bin/tesseract
	$(BIN)/python -m pytest -m fast

clean-class:
	rm -rf submitted autograded feedback reports grading gradebook.db grades.csv
