"""The one Celery app, configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery

# The product's process-wide settings (numpy's huge-page hint) before a task loads numpy.
import labeler  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")

app = Celery("labeler")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ["worker.tasks"]
