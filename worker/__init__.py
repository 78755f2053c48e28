"""Background workers: the Celery app, its tasks and (under ml/) all torch code."""
