# `make run`: set up on first use, then generate and render a piece with the bundled model.
# `make test`: set up on first use, then run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= out

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	scripts/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[render,transcribe,studio,ray,live,test]'
	$(BIN)/python -m pip install --quiet --no-deps basic-pitch==0.4.0
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ambient generate --primer 1 --seconds 60 --seed 1 -o $(OUT)/piece.mid --render stratosphere

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
