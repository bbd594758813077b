# `make demo`: build release/ and solutions/, then grade the bundled demo class.
# `make test`: the test suite. Both create .venv on first use.
VENV := .venv
BIN := $(VENV)/bin
# nbgrader needs alembic (a console script of the venv) on PATH when it creates a gradebook
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test release clean-class

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/nnlab demo

release: $(BIN)/.installed
	$(BIN)/nnlab release

test: $(BIN)/.installed
	$(BIN)/python -m pytest

clean-class:
	rm -rf submitted autograded feedback reports gradebook.db grades.csv
