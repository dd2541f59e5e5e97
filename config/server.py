"""The web server: uvicorn with httptools, every option in one place.

    python -m config.server          (what `make run` and the systemd unit run)

One event loop per worker process holds every connection; a slow client costs
memory (its connection and one chunk of its upload), never a thread: threads
are only taken for Django work, from a small pool per side (tipline/server/).
So the numbers that matter here are about connections: a large listen
backlog, many open files (raised to the hard limit at start), and a
concurrency limit far above what the thread pools could ever serve.

No access log: it would record every client's address. Logs go through the
same scrubbing configuration as Django's (tipline/logging.py).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

from config.env import envint, envstr
from tipline.logging import scrubbed_logging_config

APPLICATION = "config.asgi:application"
# Connections one worker accepts before answering 503 at once; each costs
# memory only, so this is far above the thread pools' size on purpose.
CONNECTIONS_PER_WORKER = 4096
# Connections the kernel queues for accept() (capped by net.core.somaxconn).
BACKLOG = 4096
OPEN_FILES_CEILING = 1 << 20


def logging_config() -> dict[str, Any]:
    return scrubbed_logging_config(
        root_level=None,
        loggers={
            "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    )


def uvicorn_options() -> dict[str, Any]:
    """uvicorn's keyword arguments. Checked like the settings: a bad value stops with one line."""
    from tipline.server.protocol import HeaderDeadlineProtocol

    return {
        "host": envstr("HOST", "") or "127.0.0.1",
        "port": envint("PORT", 8000, minimum=1, maximum=65535),
        "workers": envint("WEB_WORKERS", 2, minimum=1, maximum=64),
        # httptools, with the deadline on request headers (tipline/server/protocol.py).
        "http": HeaderDeadlineProtocol,
        "ws": "none",
        "lifespan": "on",
        "access_log": False,
        "log_config": logging_config(),
        "server_header": False,
        # Trust X-Forwarded-* only from the local reverse proxy.
        "proxy_headers": True,
        "forwarded_allow_ips": envstr("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "backlog": BACKLOG,
        "limit_concurrency": CONNECTIONS_PER_WORKER,
        "timeout_keep_alive": 5,
        # On stop, requests still running get this long; uploads still
        # arriving are then cut off, and what they sent is deleted.
        "timeout_graceful_shutdown": 60,
    }


def raise_open_files_limit() -> int:
    """Every connection is a file descriptor (and an upload a second one): as many as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


STATIC_MANIFEST = "staticfiles.json"  # what collectstatic writes last (WhiteNoise's manifest)
STATIC_NOT_COLLECTED = (
    "Static files are not collected: every page would fail. Run "
    "`manage.py collectstatic --noinput` first (`make run` and the deploy guide's "
    "tipline-build do)."
)


def static_files_collected() -> bool:
    """Pages link the stylesheet by its hashed name, which only collectstatic's manifest knows."""
    from config.bootstrap import prepare_data_dir

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    prepare_data_dir()  # as config.asgi does: the settings need the data dir's key
    from django.conf import settings

    return (Path(settings.STATIC_ROOT) / STATIC_MANIFEST).is_file()


def main() -> None:
    import uvicorn

    options = uvicorn_options()
    if not static_files_collected():
        # One clear line at start rather than a 500 on every page.
        raise SystemExit(STATIC_NOT_COLLECTED)
    raise_open_files_limit()
    uvicorn.run(APPLICATION, **options)


if __name__ == "__main__":
    main()
