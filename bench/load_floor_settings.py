"""The application's settings with the framework's floor beside its URLs
(``bench.load_floor_site``): what the load benchmark's gunicorn runs, and nothing else.

Its views write leases and annotations with none of the queue's rules: this module refuses
to load unless the benchmark's stack (``bench.load_stack.stack_running``) says it started
it, so a wrong ``DJANGO_SETTINGS_MODULE`` cannot serve them.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from labeler.settings import *  # noqa: F403

if os.environ.get(FLOOR_FLAG := "LABELER_LOAD_BENCHMARK_FLOOR") != "1":
    raise ImproperlyConfigured(f"bench.load_floor_settings is the load benchmark's: {FLOOR_FLAG}")

ROOT_URLCONF = "bench.load_floor_site"
