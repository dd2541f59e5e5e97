"""ASGI entry point: the application uvicorn serves (``config/server.py``, ``make run``).

Not Django's own ASGI handler: the router of tipline/server/asgi.py, which
streams the source form's uploads and runs everything through Django's
middleware and views in bounded thread pools (docs/decisions.md, "The web server").
"""

import os

import django

from config.bootstrap import prepare_data_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before Django reads the settings: the data dir and the generated key.
prepare_data_dir()
django.setup(set_prefix=False)

from config.celery import app as celery_app  # noqa: E402
from tipline.server.asgi import Router  # noqa: E402 - needs the apps loaded

# Celery sets itself up at the first task sent (its task registry, its result
# backend, found through package entry points: about half a second). Done
# here, so that the first source after a start is not the one kept waiting.
celery_app.finalize(auto=True)
celery_app.backend  # noqa: B018 - the property loads it

application = Router()
