"""WSGI entry point (gunicorn labeler.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
application = get_wsgi_application()
