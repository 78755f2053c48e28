"""WSGI entry point (gunicorn labeler.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
application = get_wsgi_application()

# With no broker, the server runs background tasks on a thread of its own, not inside the
# request that sends them (a training would hold its request for the whole run).
from labeler import jobs  # noqa: E402 - needs the settings and apps set up above
from labeler.predictions.runs import training_runs_resume  # noqa: E402

jobs.run_in_background(on_start=training_runs_resume)
