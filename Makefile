# The tip line's two everyday commands: `make run` and `make test`.
# Both set themselves up on a fresh clone: virtualenv, pinned requirements,
# compiled translations (and, for `run`, the database and the pipeline key).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test integration setup lint messages lock audit bench clean-venv

# A development checkout gets production's pins and the test tools on top
# (requirements-dev.txt includes requirements.txt); a server installs only
# requirements.txt (docs/deploy.md).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# collectstatic: hashed, compressed copies of static/ in staticfiles/ (STATIC_ROOT),
# which WhiteNoise serves.
setup: $(VENV)/.installed
	$(PY) manage.py compile_translations
	$(PY) manage.py collectstatic --noinput -v 0

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py init_pipeline_key
	$(PY) manage.py tipline_status
	$(PY) manage.py setup_link
	@echo "Serving on http://127.0.0.1:$(PORT)/"
	$(PY) -m config.server

test: setup lint
	$(PY) -m pytest -m "not integration and not browser"

# Against the real parts: PostgreSQL, a Celery worker on Redis, SeaweedFS S3,
# headless Chromium. PostgreSQL and Redis must be running (.ci/run starts
# them); SeaweedFS and the Celery worker are started by the test fixtures.
# axe-core, pinned by tests/integration/axe/package-lock.json, for the accessibility gate.
integration: setup
	cd tests/integration/axe && npm ci --no-audit --no-fund --silent
	$(PY) -m pytest --ds=tests.integration_settings -m "integration or browser" tests/integration

# Style, formatting and types; `make test` runs it first.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Extract translatable strings (needs GNU gettext's xgettext).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages --locale es --locale en --ignore '.venv/*' --ignore 'var/*' --no-obsolete

# Re-pin every package after changing requirements.in or requirements-dev.in:
# production's set first, then the development tools on top of it.
lock:
	rm -rf /tmp/tipline-lock && $(PYTHON) -m venv /tmp/tipline-lock
	/tmp/tipline-lock/bin/pip install --quiet -r requirements.in
	(echo "# Every package production runs, pinned (generated from requirements.in by \`make lock\`)."; \
	 /tmp/tipline-lock/bin/pip freeze) > requirements.txt
	/tmp/tipline-lock/bin/pip install --quiet -r requirements-dev.in
	(echo "# Test and development tools, pinned (generated from requirements-dev.in by \`make lock\`)."; \
	 echo "-r requirements.txt"; \
	 /tmp/tipline-lock/bin/pip freeze | grep -vxFf requirements.txt) > requirements-dev.txt

# Needs a machine that reaches the vulnerability advisory service.
audit: $(VENV)/.installed
	$(PY) -m pip install --quiet pip-audit
	$(VENV)/bin/pip-audit -r requirements.txt --strict

# Every benchmark, each printing its figures beside a reference measured in the
# same run. The purge runs on SQLite and on PostgreSQL, the inbox on PostgreSQL:
# it must be running on 127.0.0.1:5432 (as .ci/run starts it).
BENCH_PG ?= postgres://postgres@127.0.0.1:5432/tipline_bench
bench: setup
	$(PY) bench/crypto.py
	$(PY) bench/upload.py
	$(PY) bench/siege.py
	$(PY) bench/checkback.py
	$(PY) bench/sanitize.py
	$(PY) bench/safe_copy.py
	$(PY) bench/purge.py
	DATABASE_URL=$(BENCH_PG) $(PY) bench/purge.py
	$(PY) bench/triage.py --database-url $(BENCH_PG)

# Remove the virtual environment; the next `make run` or `make test` rebuilds it.
clean-venv:
	rm -rf $(VENV)
