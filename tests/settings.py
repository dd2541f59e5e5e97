"""Test settings: the project's settings with a throw-away data directory.

The environment is set before ``config.settings`` is imported, because the
settings read it at import time; then the data dir is prepared as every entry
point does before Django starts (``config.bootstrap``: the folder, its cache
folder and the generated secret key).
"""

import os
import tempfile

os.environ.setdefault("TIPLINE_DATA_DIR", tempfile.mkdtemp(prefix="tipline-test-data-"))
# The run's own collected static files (tests/conftest.py collects them once):
# the pages and WhiteNoise work as in production, hashed names included, and
# the servers and commands the tests start inherit the folder.
os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="tipline-test-static-"))

from config.bootstrap import prepare_data_dir

prepare_data_dir()

from config.settings import *  # noqa: E402,F403

# The cookies are production's (Secure, named `__Host-...`): Django's test
# client sends them over plain HTTP, and Chromium accepts them from
# 127.0.0.1 and localhost, where the live servers of the browser tests run.

# A file, not memory, so tests can search the database as an attacker would
# search a seized disk.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405

# Staff accounts are made in many tests: cheap hashing keeps the suite fast
# (tests/conftest.py makes their keys' Argon2id cheap too). The real costs are
# exercised by tests that ask for them explicitly.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The flood counters (tipline.intake.flood) and the marks of used forms
# (tipline.intake.form_token) must not carry over from test to test: a suite
# sending more tips than the threshold would start marking them as a flood.
# Tests of floods, replays and of what the cache holds set a real cache
# (tests/intake/conftest.py: ``memory_cache``).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

# Safe copies (LibreOffice, pdfium and tesseract in a sandbox) take a second or
# more per file: made only in the tests that ask for them (tests/safe_copy/).
TIPLINE_SAFE_COPIES = False
