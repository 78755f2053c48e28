"""The application's settings with the framework's floor beside its URLs
(``bench.load_floor_site``): what the load benchmark's gunicorn runs."""

from labeler.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_floor_site"
