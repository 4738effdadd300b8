# Forge: `make run` starts the console, `make test` runs the whole suite.
# Both create .venv and install everything on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.forge-installed
# DeepSpeed's CPU communication op, built for this install (gpu_agent/extensions.py):
# jobs of this install's agent build and load their compiled ops here, not in the
# user's ~/.cache/torch_extensions that every other install shares.
EXTENSIONS := $(VENV)/torch_extensions
SHM_OP     := $(EXTENSIONS)/deepspeed_shm_comm/deepspeed_shm_comm.so
TORCH_VERSION     := 2.13.0
DEEPSPEED_VERSION := 0.19.8
# Where to take the CPU build of torch from, on a machine whose default index
# serves a CUDA build (see README: "Installing torch").
TORCH_INDEX_URL ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: run test install lint format check wheelhouse clean ci

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing torch $(TORCH_VERSION) (CPU build on machines without a GPU)"
	$(PIP) install -q $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) torch==$(TORCH_VERSION)
	@echo "==> installing deepspeed $(DEEPSPEED_VERSION) against that torch"
	$(PIP) install -q --no-build-isolation deepspeed==$(DEEPSPEED_VERSION)
	@echo "==> installing Forge and its test tools"
	$(PIP) install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) $(SHM_OP)

# A failed build (no C++ compiler, say) does not fail the install: the first CPU run
# builds the op then, and `make install` tries again next time.
$(SHM_OP): $(STAMP)
	@echo "==> building DeepSpeed's CPU op into $(EXTENSIONS)"
	-$(BIN)/python -m gpu_agent.extensions prebuild --dir $(EXTENSIONS) && touch $@

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py forge_setup --demo
	exec $(BIN)/python manage.py run_stack

# The suite runs in TEST_WORKERS processes (pytest-xdist): each worker has its own test
# database, broker folder, Redis prefix and ports (console/settings/test.py). Many tests
# wait on real processes rather than compute, so more workers than cores pays off (on
# 2 cores: 4 workers 1,030 s, 6 workers 875 s, the CPU 87% busy); the longest tests go
# first (tests/conftest.py) so the run does not end on one long test. Modules whose
# session or module fixtures are expensive ask for one worker (xdist_group), but
# pytest-xdist 3.8 under pytest 9.2 spreads them anyway (seen 2026-12-07): those
# fixtures are still built by each worker that runs one of their tests.
# TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 6
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

ci:
	bash .ci/run

# Wheels for air-gapped GPU nodes (see ../shared/design/GPU.md): deepspeed and its
# pure-Python needs, and what the agent imports beyond the standard library (kombu
# for its queue; redis when the broker is Redis), for Python 3.12 on x86_64.
wheelhouse: install
	mkdir -p .whl
	$(PIP) wheel -q --no-deps --no-build-isolation -w .whl deepspeed==$(DEEPSPEED_VERSION)
	$(PIP) download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	  hjson pydantic pydantic-core annotated-types typing-inspection kombu amqp vine tzdata redis \
	  einops msgpack ninja psutil py-cpuinfo tqdm py-spy
	@# Quantization (llm-compressor writes compressed-tensors) and ONNX export; what a GPU
	@# node with transformers and accelerate lacks.
	$(PIP) download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform manylinux_2_28_x86_64 -d .whl \
	  llmcompressor==0.14.0.1 compressed-tensors==0.19.0 auto-round==0.15.1 loguru datasets \
	  dill multiprocess xxhash pyarrow pandas python-dateutil six fsspec \
	  onnx onnxruntime onnxscript onnx-ir ml-dtypes flatbuffers
	@# The console itself (web, worker, beat), for a GPU host that also runs it: the
	@# agent-overhead benchmark, or an air-gapped single-machine install.
	$(PIP) download -q --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform manylinux_2_28_x86_64 -d .whl/console \
	  "Django>=5.2,<5.3" "djangorestframework>=3.15,<4" "drf-spectacular>=0.28" \
	  "drf-spectacular-sidecar>=2024.11.1" "django-htmx>=1.19" "django-template-partials>=24.4" \
	  "celery[redis]>=5.5,<6" "kombu>=5.5,<6" "psycopg[binary]>=3.2,<4" "whitenoise>=6.7" \
	  "gunicorn>=23" "httpx>=0.27,<1"
	@ls -1 .whl

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache
