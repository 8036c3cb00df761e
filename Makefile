# The two commands of the README:
#   make book   set everything up, run every notebook with papermill on the full profile's committed
#               records (training any run missing there first, JOBS at once), build the HTML book;
#               make book PROFILE=quick retrains everything small (CPU minutes)
#   make test   set everything up, run the test suite
# Both create .venv with the exact versions of constraints.txt (torch 2.14.1, torchvision 0.29.1).

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= full
JOBS ?= 2
PY := $(VENV)/bin/python

.PHONY: setup book test clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet --constraint constraints.txt --editable ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(VENV)/.installed

book: setup
	$(VENV)/bin/sigmse book --profile $(PROFILE) --sweep-jobs $(JOBS)

test: setup
	$(PY) -m pytest

clean:
	rm -rf _build
