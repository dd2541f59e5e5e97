"""gunicorn settings for the embedded default (`make run`) and a single host.

No access log: it would record every client's address. Threads rather than
processes suit SQLite and slow uploads over Tor: a thread waiting on a slow
client costs little, and the worker's heartbeat does not depend on it.
"""

from config.env import envint, envstr
from tipline.logging import scrubbed_logging_config

# Checked like the settings: a bad value stops gunicorn with one line naming it.
bind = f"{envstr('HOST', '') or '127.0.0.1'}:{envint('PORT', 8000, minimum=1, maximum=65535)}"
worker_class = "gthread"
workers = envint("WEB_WORKERS", 2, minimum=1)
threads = envint("WEB_THREADS", 8, minimum=1)
# A 1 GB video over Tor can take an hour: give up only on a silent client.
timeout = 120
graceful_timeout = 60
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = "info"
# Trust X-Forwarded-* only from the local reverse proxy.
forwarded_allow_ips = envstr("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "tipline-web"
logconfig_dict = scrubbed_logging_config(
    root_level=None,
    loggers={
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
)


def post_worker_init(worker) -> None:
    """The embedded default's daily purge, sweep and reminder (no broker, so no beat).

    Every worker starts the thread; a lock file in the data dir makes one of
    them run it once a day (tipline/retention/scheduler.py). With a broker this
    does nothing: ``celery -A config beat`` sends the task instead.
    """
    from tipline.retention.scheduler import daily_runner_start

    daily_runner_start()


# gunicorn 27 opens a control socket in $HOME by default: nothing here uses it.
control_socket_disable = True
