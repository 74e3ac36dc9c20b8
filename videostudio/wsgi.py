"""WSGI entry point (gunicorn videostudio.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videostudio.settings")
application = get_wsgi_application()
