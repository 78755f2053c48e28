# Two commands matter: `make run` (set up, demo data, serve) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Installed before the project, so that the project's install then finds them satisfied.
# On Linux x86_64 PyPI's torch is the CUDA build: with its NVIDIA libraries (3.2 GB) the
# virtualenv takes about 6.7 GB. TORCH_SPEC goes to `uv pip install` as it is, so it may
# name another index: a fresh checkout gets torch's CPU build, without those libraries,
# where that index is reachable:
#   make run TORCH_SPEC="torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Python keeps the bytecode it compiles (__pycache__/, ignored by git) even where the shell
# asks it not to: every process the suite and the servers start would otherwise compile
# the project's modules again, and pytest rewrite every test module's asserts again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-postgres test-embedded test-sqlite label-studio-venv test-label-studio fuzz soak lint lint-types lint-rest format setup docs docs-serve demo worker-cpu worker-gpu worker-serve beat check-deploy compose-config stack clean bench-agreement bench-training bench-prelabel bench-active-learning bench-export bench-load bench-load-label-studio bench-uploads bench-photos bench-label-paint bench-grid bench-photo-models bench-adaptive-overlap bench-duplicates bench-label-errors bench-browse bench-bulk bench-audit bench-imports bench-scorecard bench-slices bench-predict bench-rooms bench-journeys

# Packages go in with uv (itself put in the virtualenv by pip): from its cache a fresh
# checkout's virtualenv is ready in seconds instead of two minutes of unpacking. uv does not
# read pip's configuration, so the index, extra indexes, find-links and constraints pip is
# configured with on the machine are handed to it, and it weighs every index as pip does.
# In a terminal uv shows its downloads' progress (the first run fetches torch's several
# GB); in a log it stays quiet.
# Their bytecode is compiled as each module is first imported (and kept: see above), not
# all of it at install: compiling every module of torch, pandas, sympy and the rest cost
# 45 s of CPU for the project and 15 s for Label Studio, whose `init` below imports what
# its server runs.
# $(call UV_INSTALL,venv,arguments)
define UV_INSTALL
	@pip_config() { $(1)/bin/pip config get "global.$$1" 2>/dev/null || true; }; \
	index=$$(pip_config index-url); extra=$$(pip_config extra-index-url); \
	links=$$(pip_config find-links | tr ' ' ,); constraint=$$(pip_config constraint); \
	echo "uv pip install $(2)"; \
	env UV_INDEX_STRATEGY=unsafe-best-match \
		$${index:+"UV_DEFAULT_INDEX=$$index"} $${extra:+"UV_EXTRA_INDEX_URL=$$extra"} \
		$${links:+"UV_FIND_LINKS=$$links"} $${constraint:+"UV_CONSTRAINT=$$constraint"} \
		$(1)/bin/uv pip install $$([ -t 1 ] || echo --quiet) --python $(1)/bin/python $(2)
endef

# Every extra the images install (s3, ml) beside dev and docs: the virtualenv imports what
# production imports (tests/test_runtime_dependencies.py reads its packages' metadata).
PROJECT_SPEC := -e '.[dev,ml,docs,s3]'
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	@echo "Installing torch and torchvision: on a first run several GB to download (the CUDA build; TORCH_SPEC takes the CPU one), from uv's cache afterwards."
	$(call UV_INSTALL,$(VENV),$(TORCH_SPEC))
	$(call UV_INSTALL,$(VENV),$(PROJECT_SPEC))
	touch $@

# Front-end packages (package-lock.json) land in node_modules/, served by staticfiles.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(BIN)/.installed node_modules/.installed

## Migrate, load the demo project and serve on the embedded default (SQLite, in-process tasks),
## for this machine at http://HOST:PORT (127.0.0.1:8000). HOST=0.0.0.0 serves colleagues on
## the network: it prints the addresses they open, links lead there, debug pages are off
## (labeler/first_run.py; docs/getting-started.md, "A team on a network"). RELOAD=1 restarts
## the server on a change to the code (this machine only).
run: setup
	$(BIN)/python -m labeler.first_run --host $(HOST) --port $(PORT) $(if $(filter 1 yes true,$(RELOAD)),--reload)

# The servers the production-shape pass uses: PostgreSQL with trust auth (each pytest
# worker creates test_test_gw<n> there) and Redis from database 1 up, one database per
# worker (tests/settings.py). DATABASE_URL, when it names a PostgreSQL, is taken instead.
TEST_DATABASE_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/test)
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# pytest-xdist: one process per core, each with a database of its own and pinned to its
# core (tests/conftest.py); a test module's tests stay in one process, in their order
# (loadscope), so that what a module seeds once serves all of them and no module's
# tests meet another's in a new order. TEST_DIST=worksteal evens out the last minutes
# but splits modules, in an order that changes from run to run. TEST_WORKERS=0 runs in
# one process.
# At most 4 by default: each process takes three of Redis's 16 databases (tests/settings.py).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
TEST_DIST ?= loadscope
XDIST = $(if $(filter 0 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist $(TEST_DIST))
# Exits 0 when the server of a URL answers on its port (or the default port after the URL).
ANSWERS = $(BIN)/python -c "import socket, sys, urllib.parse as u; a = u.urlsplit(sys.argv[1]); \
	socket.create_connection((a.hostname, a.port or int(sys.argv[2])), 2).close()"

## The whole suite. Where PostgreSQL answers (TEST_DATABASE_URL): all of it once in the
## production shape, on PostgreSQL and Redis (test-postgres), then what behaves
## differently on the embedded default, on SQLite with tasks in-process (test-embedded:
## the tests marked embedded). Where none answers: all of it on SQLite (test-sqlite).
## TEST_SERVERS=no takes the SQLite run whatever answers. Every run ends listing what it
## skipped and why, its slowest tests and any test over 20 s not marked slow.
## PYTEST_ARGS: more arguments for pytest, in every pass.
test: setup
	@if [ "$(TEST_SERVERS)" != no ] && $(ANSWERS) $(TEST_DATABASE_URL) 5432 2>/dev/null; then \
		status=0; \
		$(MAKE) --no-print-directory test-postgres || status=$$?; \
		$(MAKE) --no-print-directory test-embedded || status=$$?; \
		exit $$status; \
	fi; \
	[ "$(TEST_SERVERS)" = no ] || echo "!! No PostgreSQL answers at $(TEST_DATABASE_URL): the whole suite on SQLite."; \
	$(MAKE) --no-print-directory test-sqlite

## The whole suite on PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL): the
## production shape. The Redis tests skip, listed, when no Redis answers.
test-postgres: setup
	@redis=; if $(ANSWERS) $(TEST_REDIS_URL) 6379 2>/dev/null; then redis=$(TEST_REDIS_URL); fi; \
	echo "== The whole suite on $(TEST_DATABASE_URL) and $${redis:-no Redis (none answers at $(TEST_REDIS_URL))}"; \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$$redis $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

## What behaves differently on the embedded default (tests marked embedded: SQLite's forms
## of the raw SQL and its triggers, tasks run in-process, the first run), on SQLite.
test-embedded: setup
	@echo "== What differs on the embedded default: SQLite, tasks in-process (-m embedded)"
	@env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL $(BIN)/pytest -m embedded $(XDIST) $(PYTEST_ARGS); \
	status=$$?; [ $$status -ne 5 ] || status=0; exit $$status  # 5: PYTEST_ARGS chose none of them

## The whole suite on SQLite, tasks in-process: what a machine without the servers runs.
test-sqlite: setup
	@echo "== The whole suite on SQLite, tasks in-process"
	@env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

## The round trips through a real Label Studio (tests marked label_studio, which `make test`
## skips): Label Studio in a virtualenv of its own (its Django never meets ours), started
## as a separate server by the tests. The virtualenv is built once and reused.
LABEL_STUDIO_VENV ?= .venv-label-studio
LABEL_STUDIO_SPEC ?= label-studio==1.23.2
$(LABEL_STUDIO_VENV)/.installed:
	$(PYTHON) -m venv $(LABEL_STUDIO_VENV)
	$(LABEL_STUDIO_VENV)/bin/pip install --quiet --upgrade pip uv
	$(call UV_INSTALL,$(LABEL_STUDIO_VENV),$(LABEL_STUDIO_SPEC) 'gunicorn>=23')
	touch $@

# Its database, migrated once: a first start spends 40 s on Label Studio's migrations,
# a start from a copy of this folder 4 s (tests/label_studio/conftest.py copies it).
LABEL_STUDIO_MIGRATED = $(LABEL_STUDIO_VENV)/migrated-data
$(LABEL_STUDIO_VENV)/.migrated: $(LABEL_STUDIO_VENV)/.installed
	rm -rf $(LABEL_STUDIO_MIGRATED)
	env -i PATH="$$PATH" HOME="$$HOME" LABEL_STUDIO_BASE_DATA_DIR="$(abspath $(LABEL_STUDIO_MIGRATED))" \
		LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false SENTRY_DSN= FRONTEND_SENTRY_DSN= \
		$(LABEL_STUDIO_VENV)/bin/label-studio init --quiet >/dev/null
	touch $@

label-studio-venv: $(LABEL_STUDIO_VENV)/.migrated

test-label-studio: setup $(LABEL_STUDIO_VENV)/.migrated
	LABELER_LABEL_STUDIO=$(LABEL_STUDIO_VENV)/bin/label-studio \
	LABELER_LABEL_STUDIO_DATA=$(LABEL_STUDIO_MIGRATED) \
		$(BIN)/pytest -m label_studio tests/label_studio $(PYTEST_ARGS)

## The API fuzzed wider than `make test` does (a fixed seed there): more requests and a new
## seed each run, printed; `make fuzz FUZZ_SEED=<seed>` replays a run. Half the requests
## carry NUL or a lone surrogate in one of their strings (sprinkle). Pin what it finds
## as a test in tests/api/test_schema_fuzz.py.
FUZZ_EXAMPLES ?= 200
fuzz: setup
	@seed=$(or $(FUZZ_SEED),$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); \
	echo "fuzz seed: $$seed"; \
	LABELER_FUZZ_SEED=$$seed LABELER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(BIN)/pytest tests/api/test_schema_fuzz.py -k test_api_answers_as_documented; \
	status=$$?; echo "fuzz seed: $$seed (replay: make fuzz FUZZ_SEED=$$seed)"; exit $$status

## The soak longer than `make test` runs it (15 s there): 50 annotators against gunicorn
## on PostgreSQL for SOAK_SECONDS, then the audit of what they were told (docs/reliability.md).
SOAK_SECONDS ?= 300
soak: setup
	DATABASE_URL=$(TEST_DATABASE_URL) SOAK_SECONDS=$(SOAK_SECONDS) \
		$(BIN)/pytest tests/reliability/test_soak.py -s -p no:cacheprovider

# The type check, the longest, runs beside the rest; each one's output is printed whole.
lint: setup
	@$(MAKE) --no-print-directory -j 2 --output-sync=target lint-types lint-rest

lint-types: setup
	$(BIN)/mypy

lint-rest: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=1 $(BIN)/python manage.py spectacular --fail-on-warn --file /dev/null
	node_modules/.bin/eslint --max-warnings 0 static/js
	$(MAKE) docs

## The documentation site (mkdocs.yml) into site/: strict, so a broken link or anchor, or a
## page left out of nav, fails it. The API reference is rendered from the OpenAPI schema.
## Then Chromium opens site/index.html from disk, as a reader does, and follows a link and
## a search (tests/docs/site_from_disk.py).
docs: setup
	$(BIN)/mkdocs build --strict
	$(BIN)/python tests/docs/site_from_disk.py site

## The site served with live reload at http://DOCS_HOST:DOCS_PORT/ (127.0.0.1:8001 by default).
DOCS_HOST ?= 127.0.0.1
DOCS_PORT ?= 8001
docs-serve: setup
	$(BIN)/mkdocs serve --strict -a $(DOCS_HOST):$(DOCS_PORT)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Time the agreement report on a million annotations in PostgreSQL (docs/benchmarks.md).
bench-agreement: setup
	$(BIN)/python bench/agreement.py

## Train the default model on 800 scikit-learn digits on 2 CPU threads (docs/benchmarks.md).
bench-training: setup
	$(BIN)/python bench/training.py

## Pre-labelling throughput from stored files against the bare forward pass (docs/benchmarks.md).
bench-prelabel: setup
	$(BIN)/python bench/prelabel.py

## Labels needed for 97% on the digits: margin sampling against random order (docs/benchmarks.md).
bench-active-learning: setup
	$(BIN)/python bench/active_learning.py

## Export 10,000 and 100,000 images as JSON and ImageFolder zips: time and peak memory; then 35 photos (HEIC and AVIF converted) against a bare zipfile (docs/benchmarks.md).
bench-export: setup
	$(BIN)/python bench/export.py

## Annotators at scale against gunicorn and the workers, beside a bare-SQL floor (docs/benchmarks.md).
bench-load: setup
	$(BIN)/python bench/load.py

## The annotator loop against Label Studio in the same harness, beside ours (docs/benchmarks.md).
bench-load-label-studio: setup label-studio-venv
	$(BIN)/python bench/load.py --label-studio --sizes 1000,100000 --skip import,export,pages,grid

## Peak memory of gunicorn taking three uploads at the caps, beside a bare Pillow loop (docs/reliability.md).
bench-uploads: setup
	$(BIN)/python bench/uploads.py

## Key press to the next photo painted on the labelling page at 20 Mbit/s, display copies against originals (docs/benchmarks.md).
bench-label-paint: setup
	$(BIN)/python bench/label_paint.py

## Grid against single mode: a scripted annotator labels 240 photos whose suggestions are 90%
## right in each, at 20 Mbit/s; images a minute, Enter to the next page painted, accuracy (docs/benchmarks.md).
bench-grid: setup
	$(BIN)/python bench/grid_label.py

worker-cpu: setup
	$(BIN)/celery -A worker.celery_app worker -Q default -n cpu@%h --loglevel=info

# One process per GPU; on a CPU-only machine one per core, torch on one thread in each:
#   LABELER_TORCH_THREADS=1 make worker-gpu GPU_CONCURRENCY=2
GPU_CONCURRENCY ?= 1
worker-gpu: setup
	$(BIN)/celery -A worker.celery_app worker -Q gpu -n gpu@%h --concurrency=$(GPU_CONCURRENCY) --loglevel=info

## The prediction API's worker (queue serve): apart from training, so callers never wait behind one.
## One process, its requests on threads: those that arrive together run through the model
## in one batch (worker.ml.engine).
SERVE_CONCURRENCY ?= 16
worker-serve: setup
	$(BIN)/celery -A worker.celery_app worker -Q serve --pool threads --concurrency $(SERVE_CONCURRENCY) -n serve@%h --loglevel=info

beat: setup
	$(BIN)/celery -A worker.celery_app beat --loglevel=info

compose-config:
	docker-compose --env-file .env.example config --quiet
	docker-compose --env-file .env.example --profile gpu config --quiet
	docker-compose --env-file .env.example --profile cpu config --quiet
	docker-compose --env-file .env.example -f docker-compose.yml -f deploy/local/docker-compose.yml \
		--profile cpu config --quiet

## The production stack run for real on this machine, with Docker's engine and no registry
## (deploy/local/): images from Debian's packages, web scaled to two behind the proxy on
## 127.0.0.1:STACK_PORT (8088), walked from a browser, then taken down (STACK_KEEP=1 keeps
## it). STACK_TORCH_SPEC: the training worker's torch (docs/deployment.md).
stack: setup
	$(BIN)/python deploy/local/stack.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## Phone photos uploaded over REST against a bare read+hash+copy loop, and their previews (docs/benchmarks.md).
bench-photos: setup
	$(BIN)/python bench/photos.py

## ResNet-18 at 224 px: training and pre-labelling through our code against bare PyTorch on the same
## kept inputs; CUDA when present, --device cpu for the CPU figures (docs/benchmarks.md).
bench-photo-models: setup
	$(BIN)/python bench/photo_models.py

## Adaptive overlap against fixed overlap 3 (majority vote, Dawid-Skene): final-label accuracy and
## labels per image, the demo's simulated annotators on the digits (docs/benchmarks.md).
bench-adaptive-overlap: setup
	$(BIN)/python bench/adaptive_overlap.py

## Near-duplicates: planted copies found at each distance, and one check and the whole project's
## groups at a million images in PostgreSQL against a scan and the pairwise reference (docs/benchmarks.md).
bench-duplicates: setup
	$(BIN)/python bench/duplicates.py

## Wrong final labels found: the digits with 5% of labels flipped, the label check's flags against the flips (docs/benchmarks.md).
bench-label-errors: setup
	$(BIN)/python bench/label_errors.py

## A version's test scorecard, and its bootstrap's areas against scikit-learn per draw (docs/benchmarks.md).
bench-scorecard: setup
	$(BIN)/python bench/scorecard.py

## The data browser's first page under each single filter and sort on 1,000,000 images, against 300 ms (docs/benchmarks.md).
bench-browse: setup
	$(BIN)/python bench/browse.py

## The slice report of 100,000 images (300,000 annotations, metadata, a scored model) on PostgreSQL, against the agreement report (docs/benchmarks.md).
bench-slices: setup
	$(BIN)/python bench/slices.py

## Bulk actions (priority, send back for relabelling, send to review) over 100,000 images on PostgreSQL (docs/benchmarks.md).
bench-bulk: setup
	$(BIN)/python bench/bulk.py

## The annotator loop with the audit trail's middleware on and off, same run (docs/benchmarks.md).
bench-audit: setup
	PYTHONPATH=. $(BIN)/python bench/audit_cost.py

## Python files and lines per package and per room, labeler/images and labeler/imports against f3485d0 (docs/architecture.md).
bench-rooms: setup
	$(BIN)/python bench/rooms.py

## Three journeys (a submit, a training's end, an import) traced file by file, with the calls that climb up the layers (docs/architecture.md).
bench-journeys: setup
	$(BIN)/python bench/journeys.py

## Every person's labels from a Label Studio export of 5,000 images, against a flat CSV import of the same (docs/benchmarks.md).
bench-imports: setup
	$(BIN)/python bench/imports.py

## The prediction API: one image's latency and batch-64 throughput over HTTP against a bare forward pass (docs/benchmarks.md).
bench-predict: setup
	$(BIN)/python bench/predict.py
