"""Settings of the app server the counter benchmarks start (bench/appserver.py).

The production settings, read from the environment like any deployment, with one change:
static files are referenced by their plain names instead of the hashed names in
collectstatic's manifest. Collecting and compressing the static files takes minutes,
and no benchmarked request serves a static file; templates only print their URLs.
"""

from kent_cs.settings import *  # noqa: F403
from kent_cs.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
