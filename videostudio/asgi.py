"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videostudio.settings")

from videostudio.limits import limit_asgi_bodies

# Bodies are cut off at the cap as they arrive (see videostudio.limits).
application = limit_asgi_bodies(get_asgi_application())
