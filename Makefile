# Dogs vs. Cats with Keras: the two commands a newcomer needs.
#   make course   prepare the data and run every notebook (DOGSCATS_PROFILE=smoke|sample|full)
#   make test     run the unit tests and every notebook under the smoke profile
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

# Tests never touch the project's data/ or results/: each `make test`/`unit`/`notebooks`
# prepares into a fresh temporary folder (deleted at the end), shared by the unit tests'
# fixtures (DOGSCATS_TEST_DATA) and the notebooks nbval runs (DOGSCATS_DATA, DOGSCATS_RESULTS).
define in_test_dirs
	@tmp="$$(mktemp -d "$${TMPDIR:-/tmp}/dogscats-test.XXXXXX")" && trap 'rm -rf "$$tmp"' EXIT && \
	echo "test data and results in $$tmp (deleted at the end)" && \
	DOGSCATS_PROFILE=smoke DOGSCATS_DATA="$$tmp/data" DOGSCATS_RESULTS="$$tmp/results" \
	DOGSCATS_TEST_DATA="$$tmp/data" $(TEST_ARCHIVE) $(1)
endef

# The kernels of `make lab` stay quiet about TensorFlow's start-up, as `make course`'s:
# what C/C++ libraries print goes to the terminal running `make lab`, not into the
# notebooks (an IPython kernel setting of this environment), and TensorFlow's later
# INFO/WARNING logs are off (TF_CPP_MIN_LOG_LEVEL=0 make lab shows them).
TF_CPP_MIN_LOG_LEVEL ?= 2
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

.PHONY: course test unit notebooks lab clean-results env help

help:
	@echo "make course   prepare the data and run every notebook (profile: DOGSCATS_PROFILE, default sample)"
	@echo "make test     unit tests + every notebook under DOGSCATS_PROFILE=smoke"
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
	$(call in_test_dirs,$(PY) -m pytest -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 tests notebooks)

unit: $(STAMP)
	$(call in_test_dirs,$(PY) -m pytest -p no:cacheprovider tests)

notebooks: $(STAMP)
	$(call in_test_dirs,$(PY) -m pytest -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 notebooks)

lab: $(STAMP)
	@mkdir -p $(dir $(KERNEL_CONFIG))
	@echo "c.IPKernelApp.capture_fd_output = False  # make lab: C-level logs go to its terminal" \
		> $(KERNEL_CONFIG)
	TF_CPP_MIN_LOG_LEVEL=$(TF_CPP_MIN_LOG_LEVEL) $(VENV)/bin/jupyter lab notebooks/

clean-results:
	rm -rf results/
