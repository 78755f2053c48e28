"""WSGI entry point (gunicorn labeler.wsgi)."""

import os
from collections.abc import Callable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
application: Callable[..., Any] = get_wsgi_application()

# The URLconf (with every view module) and the tasks loaded now rather than by a worker's
# first request, which they held up by a tenth of a second or more.
from django.urls import get_resolver  # noqa: E402

from labeler import jobs  # noqa: E402 - needs the settings and apps set up above

get_resolver().url_patterns  # noqa: B018 - loading is the point
jobs.register_tasks()

# The statistics libraries behind the dashboards' figures and the models' curves: the
# modules that use them import them where they do, so that commands and workers start
# without them (a second and a half); the web server takes them now, before its first
# dashboard.
import scipy.stats  # noqa: E402, F401
import sklearn.metrics  # noqa: E402, F401
import statsmodels.stats.multitest  # noqa: E402, F401

# With no broker, the server runs background tasks on a thread of its own, not inside the
# request that sends them (a training would hold its request for the whole run). It runs
# no beat either: what beat would find after an upgrade or a stop is sent as it starts.
from labeler import flows  # noqa: E402

if jobs.run_in_background(on_start=flows.background_started):
    # The image threads wait while requests are served: an upload's answers come first.
    application = jobs.served(application)
