# Dogs vs. Cats with Keras: the two commands a newcomer needs.
#   make course   prepare the data and run every notebook (DOGSCATS_PROFILE=smoke|sample|full)
#   make test     run the unit tests and every notebook under the smoke profile, on TensorFlow, JAX, PyTorch
# Both create the virtual environment .venv first when it is missing or out of date.
# More:
#   make test-jax     the JAX pass alone (every notebook alone on a simulated Kaggle runtime)
#   make test-torch   the PyTorch pass alone (installs a CPU torch first; simulated Colab runtimes)
#   make test-fresh   every notebook and solution alone on simulated Kaggle and Colab runtimes, on TensorFlow
#   make tensorboard  open the training runs' TensorBoard logs
#   make goldens      re-execute the notebooks under smoke into tests/golden/smoke (GOLDENS="03")
#   make regress      before a release: the course under sample against reference/sample
#   make regress-selftest  five planted regressions, each must be caught
#   make lab          JupyterLab, with RISE to present a notebook live
# For instructors, from what `make course` executed (same DOGSCATS_PROFILE):
#   make slides   every lesson as reveal.js slides   -> results/<profile>/slides/
#   make site     the course as a static website     -> results/<profile>/site/

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
# prepares into a fresh temporary folder (deleted at the end): the notebooks nbval runs use
# DOGSCATS_DATA and DOGSCATS_RESULTS, the unit tests' fixtures DOGSCATS_TEST_DATA, apart,
# as the two run side by side.
define in_test_dirs
	@tmp="$$(mktemp -d "$${TMPDIR:-/tmp}/dogscats-test.XXXXXX")" && trap 'rm -rf "$$tmp"' EXIT && \
	echo "test data and results in $$tmp (deleted at the end)" && \
	export DOGSCATS_PROFILE=smoke DOGSCATS_DATA="$$tmp/data" DOGSCATS_RESULTS="$$tmp/results" \
	DOGSCATS_TEST_DATA="$$tmp/test-data" $(TEST_ARCHIVE) && $(1)
endef

# The kernels of `make lab` stay quiet about TensorFlow's start-up, as `make course`'s:
# what C/C++ libraries print goes to the terminal running `make lab`, not into the
# notebooks (an IPython kernel setting of this environment), and TensorFlow's later
# INFO/WARNING logs are off (TF_CPP_MIN_LOG_LEVEL=0 make lab shows them).
TF_CPP_MIN_LOG_LEVEL ?= 2
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

# The backends `make test` runs on, one pass each (`make test TEST_BACKENDS="tensorflow jax"`).
# The first pass runs every test and compares every notebook's outputs with its golden.
# Later passes skip the tests marked `slow` (archive, crash, browser: nothing in them
# depends on the backend) or `backend_neutral` (tests/conftest.py), run the rest, and open
# every lesson notebook alone on a simulated fresh runtime (tests/test_fresh_runtime.py,
# TEST_RUNS): Kaggle on JAX, Colab on PyTorch; `make test-fresh` adds the solutions. Each pass prints its seconds;
# `make test TEST_BACKENDS=tensorflow` runs the first alone. The unit tests run on TEST_WORKERS
# processes, and in the TensorFlow pass the golden notebooks beside them (below).
TEST_BACKENDS ?= tensorflow jax torch
FRESH_RUNTIME_jax   := kaggle
FRESH_RUNTIME_torch := colab
# PyTorch for the torch pass, installed into .venv when missing: this version has a CPU
# wheel on the course's machines; elsewhere add
# TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" to avoid a
# multi-gigabyte CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PROFILE ?= $(or $(DOGSCATS_PROFILE),sample)

# The unit tests run on TEST_WORKERS processes (pytest-xdist, -n): most of them wait on a
# subprocess, a kernel or an import with one core busy, so two workers on 2 cores take little
# more than half the time. The golden notebooks run in one pytest of their own, beside the
# unit tests and in order (a lesson reads what the ones before it saved): pytest-xdist cannot
# keep them together, as every notebook's cells outside the rootdir share the node ids
# `::Cell N`. TEST_WORKERS=0: the unit tests in one process.
# The PyTorch pass keeps one process (TORCH_TEST_WORKERS): its CPU kernels already keep both
# cores busy, and two workers only contended (378 s against 350 s with one, on 2 cores).
TEST_WORKERS ?= 2
TORCH_TEST_WORKERS ?= 0
PYTEST     = $(PY) -m pytest -p no:cacheprovider --durations=15
XDIST      = -n $(TEST_WORKERS)
NBVAL      = --nbval-lax --nbval-current-env --nbval-cell-timeout=900
NBVAL_GOLDEN = --nbval --nbval-current-env --nbval-cell-timeout=900 \
	--nbval-sanitize-with tests/golden/sanitize.cfg

.PHONY: lessons course test test-fresh goldens goldens-check regress regress-selftest test-extended test-jax test-torch unit notebooks lab tensorboard slides site site-check tag-slides \
	clean-results env help

help:
	@echo "make course   prepare the data and run every notebook (profile: DOGSCATS_PROFILE, default sample)"
	@echo "make test     unit tests + every notebook under DOGSCATS_PROFILE=smoke, on TensorFlow, JAX, PyTorch"
	@echo "make test-jax     the JAX pass alone"
	@echo "make test-extended  the minutes-long kill test on the 10,000 shared photos"
	@echo "make test-torch   the PyTorch pass alone (installs a CPU torch into .venv if missing)"
	@echo "make test-fresh   every notebook and solution alone on simulated fresh Kaggle and Colab runtimes"
	@echo "make tensorboard  TensorBoard on results/<profile>/logs (PROFILE=smoke|sample|full)"
	@echo "make lab      open the notebooks in JupyterLab (RISE: present a notebook as slides)"
	@echo "make slides   every executed lesson as reveal.js slides (after make course)"
	@echo "make site     the executed course as a static website (after make course)"
	@echo "make site-check  open site and slides in headless Chromium; screenshots in results/<profile>/site/"

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev,lab]"
	@touch $(STAMP)

course: $(STAMP)
	$(PY) -m course.run.runner

# On TensorFlow, nbval compares the notebooks' outputs with the golden executed notebooks
# of tests/golden/smoke/ (tests/golden/README.md): `goldens compose` puts the current cells
# of notebooks/ together with the goldens' outputs in the test folder, nbval runs those
# without --nbval-lax (instead of the lax run, not besides it), then the records the
# notebooks wrote are checked against reference/smoke/records. Other backends print
# other numbers: they run notebooks/ with --nbval-lax.
test: $(STAMP)
	@case " $(TEST_BACKENDS) " in (*" torch "*) $(PY) -c "import torch" 2>/dev/null || \
		{ echo "installing $(TORCH_SPEC) for the PyTorch pass"; $(PY) -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_PIP_ARGS); };; esac
	$(call in_test_dirs,first=1; for backend in $(TEST_BACKENDS); do \
		echo "== make test: KERAS_BACKEND=$$backend"; start=$$(date +%s); \
		if [ -n "$$first" ]; then only="not extended"; else only="not slow and not extended and not backend_neutral"; fi; \
		if [ "$$backend" = tensorflow ]; then \
			$(PY) -m course.tools.goldens compose "$$tmp/golden" || exit 1; \
			$(PY) -m course.tools.goldens prepare || exit 1; \
			echo "== the golden notebooks run beside the unit tests; their log follows the unit tests'"; \
			( IPYTHONDIR="$$tmp/golden/ipython" PYTHONPATH="$(CURDIR)" TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=$$backend \
				$(PYTEST) -p tests.conftest $(NBVAL_GOLDEN) -c $(CURDIR)/pyproject.toml --rootdir=$(CURDIR) \
				"$$tmp/golden/notebooks" > "$$tmp/golden.log" 2>&1; echo $$? > "$$tmp/golden.rc" ) & \
			DOGSCATS_DATA="$$tmp/unit/data" DOGSCATS_RESULTS="$$tmp/unit/results" KERAS_BACKEND=$$backend \
				$(PYTEST) $(XDIST) -m "$$only" tests; units=$$?; wait; \
			echo "== make test: the golden notebooks (nbval against tests/golden/smoke)"; cat "$$tmp/golden.log"; \
			[ "$$units" = 0 ] && [ "$$(cat "$$tmp/golden.rc")" = 0 ] || exit 1; \
			$(PY) -m course.tools.goldens records "$$tmp/results/smoke" || exit 1; \
		else \
			case $$backend in (jax) fresh="--fresh-runtime $(FRESH_RUNTIME_jax)"; xdist="$(XDIST)";; \
				(torch) fresh="--fresh-runtime $(FRESH_RUNTIME_torch)"; xdist="-n $(TORCH_TEST_WORKERS)";; \
				(*) fresh=""; xdist="$(XDIST)";; esac; \
			KERAS_BACKEND=$$backend $(PYTEST) $$xdist -m "$$only" $$fresh tests || exit 1; \
		fi; \
		echo "== make test: KERAS_BACKEND=$$backend passed in $$(( $$(date +%s) - start )) s"; \
		first=""; \
	done)

# the golden comparison alone (TensorFlow, smoke): compose, nbval, records
goldens-check: $(STAMP)
	$(call in_test_dirs,$(PY) -m course.tools.goldens compose "$$tmp/golden" && \
		$(PY) -m course.tools.goldens prepare && \
		IPYTHONDIR="$$tmp/golden/ipython" PYTHONPATH="$(CURDIR)" TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=tensorflow \
		$(PYTEST) -p tests.conftest $(NBVAL_GOLDEN) -c $(CURDIR)/pyproject.toml --rootdir=$(CURDIR) "$$tmp/golden/notebooks" && \
		$(PY) -m course.tools.goldens records "$$tmp/results/smoke")

# after changing what a notebook prints, on purpose: re-execute under smoke and rewrite
# its golden (GOLDENS="03 05" for some; all by default); the diff is printed for review
goldens: $(STAMP)
	$(PY) -m course.tools.goldens update $(if $(GOLDENS),--only $(GOLDENS))

# before a release, run the regression check: the course under `sample` in temporary
# folders, the lessons' claim cells (asserts) included, then each record against
# reference/sample/records and each model's test predictions against the reference
# run's by McNemar (fails on a significant drop)
regress: $(STAMP)
	$(PY) -m course.tools.regress run --profile sample

# proof the suite bites: five planted regressions, each in a temporary copy of the
# project, each must be caught by nbval (golden outputs) or the records check
regress-selftest: $(STAMP)
	$(PY) -m course.tools.regress selftest

# the tests marked `extended` (a kill while checking the 10,000 shared photos, then a full rerun)
test-extended: $(STAMP)
	$(call in_test_dirs,$(PYTEST) $(XDIST) -m extended tests)

# every notebook opened alone on a simulated fresh Colab and Kaggle runtime (tests/platforms.py):
# a clone of this working tree, the shared photos as the platform offers them; smoke profile
test-fresh: $(STAMP)
	$(PYTEST) $(XDIST) -m fresh_runtime --fresh-runtime kaggle --fresh-runtime colab --fresh-runtime-every tests/test_fresh_runtime.py

test-jax: $(STAMP)
	$(MAKE) test TEST_BACKENDS=jax

test-torch: $(STAMP)
	$(MAKE) test TEST_BACKENDS=torch

unit: $(STAMP)
	$(call in_test_dirs,$(PYTEST) $(XDIST) tests)

notebooks: $(STAMP)
	$(call in_test_dirs,$(PYTEST) $(NBVAL) notebooks)

lab: $(STAMP)
	@mkdir -p $(dir $(KERNEL_CONFIG))
	@echo "c.IPKernelApp.capture_fd_output = False  # make lab: C-level logs go to its terminal" \
		> $(KERNEL_CONFIG)
	TF_CPP_MIN_LOG_LEVEL=$(TF_CPP_MIN_LOG_LEVEL) $(VENV)/bin/jupyter lab notebooks/

tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir results/$(PROFILE)/logs

slides: $(STAMP)
	$(PY) -m course.publish.slides

site: $(STAMP)
	$(PY) -m course.publish.site

site-check: $(STAMP)
	$(PY) -m course.publish.browser

# after editing a #@save cell: regenerate utils/lessons.py from the notebooks
lessons: $(STAMP)
	$(PY) -m course.tools.lessons

# after editing a notebook: give its cells their slide types again (course/publish/slides_tags.py)
tag-slides: $(STAMP)
	$(PY) -m course.publish.slides_tags

clean-results:
	rm -rf results/
