"""WSGI entry point (gunicorn videostudio.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videostudio.settings")

from videostudio.limits import limit_unsized_bodies

# Chunked bodies are counted against the cap as they arrive (see videostudio.limits).
application = limit_unsized_bodies(get_wsgi_application())
