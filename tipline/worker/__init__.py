"""The worker: opens each raw upload, cleans it, stores the cleaned copy and its thumbnail.

Runs in Celery workers (or in the web process when there is no broker). It
holds the pipeline key, so nothing here is reachable from a page.
"""
