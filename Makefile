# The tip line's two everyday commands: `make run` and `make test`.
# Both set themselves up on a fresh clone: virtualenv, pinned requirements,
# compiled translations (and, for `run`, the database and the pipeline key).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test integration setup lint messages lock audit bench clean-venv

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed
	$(PY) manage.py compile_translations

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py init_pipeline_key
	$(PY) manage.py tipline_status
	@echo "Serving on http://127.0.0.1:$(PORT)/"
	$(VENV)/bin/gunicorn --config config/gunicorn.conf.py config.wsgi

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not integration and not browser"

# Against the real parts: PostgreSQL, a Celery worker on Redis, SeaweedFS S3,
# headless Chromium. PostgreSQL and Redis must be running (.ci/run starts
# them); SeaweedFS and the Celery worker are started by the test fixtures.
integration: setup
	$(PY) -m pytest --ds=tests.integration_settings -m "integration or browser" tests/integration

lint: $(VENV)/.installed
	$(PY) -m ruff check .

# Extract translatable strings (needs GNU gettext's xgettext).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages --locale es --locale en --ignore '.venv/*' --ignore 'var/*' --no-obsolete

# Re-pin every package after changing requirements.in.
lock:
	rm -rf /tmp/tipline-lock && $(PYTHON) -m venv /tmp/tipline-lock
	/tmp/tipline-lock/bin/pip install --quiet -r requirements.in
	(echo "# Every package pinned to an exact version (generated from requirements.in by \`make lock\`)."; \
	 /tmp/tipline-lock/bin/pip freeze) > requirements.txt

# Needs a machine that reaches the vulnerability advisory service.
audit: $(VENV)/.installed
	$(PY) -m pip install --quiet pip-audit
	$(VENV)/bin/pip-audit -r requirements.txt --strict

bench: setup
	$(PY) bench/crypto.py
