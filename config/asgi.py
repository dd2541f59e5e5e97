"""ASGI entry point, for servers that prefer it; the shipped setup uses WSGI."""

import os

from django.core.asgi import get_asgi_application

from config.bootstrap import prepare_data_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before Django reads the settings: the data dir and the generated key.
prepare_data_dir()

application = get_asgi_application()
