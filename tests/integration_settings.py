"""Settings for the integration suite: PostgreSQL, Celery on Redis and S3 (SeaweedFS).

The services' addresses can be overridden from the environment; the defaults
are the ones .ci/run starts on this machine.
"""

import os

S3_PORT = int(os.environ.get("TIPLINE_IT_S3_PORT", "18333"))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tipline")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("TIPLINE_STORAGE", "s3")
os.environ.setdefault("AWS_STORAGE_BUCKET_NAME", "tipline-integration")
os.environ.setdefault("AWS_S3_ENDPOINT_URL", f"http://127.0.0.1:{S3_PORT}")
os.environ.setdefault("AWS_S3_REGION_NAME", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "integration")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "integration-secret")
os.environ.setdefault("AWS_S3_ADDRESSING_STYLE", "path")

from tests.settings import *  # noqa: E402,F403

# A server started by a test whose pages keep state in the cache (a source's
# visit) names a Redis database here; otherwise the dummy cache of tests/settings.py.
if os.environ.get("TIPLINE_IT_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["TIPLINE_IT_CACHE_URL"],
        }
    }
