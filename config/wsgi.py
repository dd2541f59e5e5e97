"""WSGI entry point, for WSGI servers; the shipped server is ASGI (``config/server.py``)."""

import os

from django.core.wsgi import get_wsgi_application

from config.bootstrap import prepare_data_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before Django reads the settings: the data dir and the generated key.
prepare_data_dir()

application = get_wsgi_application()
