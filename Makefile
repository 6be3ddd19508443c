# Dogs vs. Cats with Keras: the two commands a newcomer needs.
#   make course   prepare the data and run every notebook (DOGSCATS_PROFILE=smoke|sample|full)
#   make test     run the unit tests and every notebook under the smoke profile,
#                 on the TensorFlow backend and again on JAX
#   make test-torch   the same on the PyTorch backend (installs a CPU torch first)
#   make tensorboard  open the training runs' TensorBoard logs
# Both create the virtual environment .venv first when it is missing or out of date.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The real images for tests: DOGSCATS_ARCHIVE if set, else ../shared/data/dogs-vs-cats if present.
SHARED_DATA := $(abspath ../shared/data/dogs-vs-cats)
ifeq ($(origin DOGSCATS_ARCHIVE), undefined)
  ifneq ($(wildcard $(SHARED_DATA)/train.zip),)
    TEST_ARCHIVE := DOGSCATS_ARCHIVE=$(SHARED_DATA)
  endif
endif

# Paths given relative to this folder stay valid inside notebooks/ too.
ifdef DOGSCATS_ARCHIVE
  export DOGSCATS_ARCHIVE := $(abspath $(DOGSCATS_ARCHIVE))
endif

# The backends `make test` runs on, one full pass each.
TEST_BACKENDS ?= tensorflow jax
# PyTorch for `make test-torch`: this version has a CPU wheel on the course's machines;
# elsewhere add TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" to
# avoid a multi-gigabyte CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PROFILE ?= $(or $(DOGSCATS_PROFILE),sample)

PYTEST_ALL = $(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
	--nbval-cell-timeout=900 tests notebooks

.PHONY: course test test-torch unit notebooks lab tensorboard clean-results env help

help:
	@echo "make course   prepare the data and run every notebook (profile: DOGSCATS_PROFILE, default sample)"
	@echo "make test     unit tests + every notebook under DOGSCATS_PROFILE=smoke, on TensorFlow then JAX"
	@echo "make test-torch   the same on PyTorch (installs a CPU torch into .venv if missing)"
	@echo "make tensorboard  TensorBoard on results/<profile>/logs (PROFILE=smoke|sample|full)"
	@echo "make lab      open the notebooks in JupyterLab"

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

course: $(STAMP)
	$(PY) -m utils.runner

test: $(STAMP)
	@set -e; for backend in $(TEST_BACKENDS); do \
		echo "== make test: KERAS_BACKEND=$$backend"; start=$$(date +%s); \
		KERAS_BACKEND=$$backend DOGSCATS_PROFILE=smoke $(TEST_ARCHIVE) $(PYTEST_ALL); \
		echo "== make test: KERAS_BACKEND=$$backend passed in $$(( $$(date +%s) - start )) s"; \
	done

test-torch: $(STAMP)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(MAKE) test TEST_BACKENDS=torch

unit: $(STAMP)
	DOGSCATS_PROFILE=smoke $(TEST_ARCHIVE) $(PY) -m pytest -p no:cacheprovider tests

notebooks: $(STAMP)
	DOGSCATS_PROFILE=smoke $(TEST_ARCHIVE) $(PY) -m pytest -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir results/$(PROFILE)/logs

clean-results:
	rm -rf results/
