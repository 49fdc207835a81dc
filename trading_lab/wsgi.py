"""WSGI entry point (gunicorn trading_lab.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_lab.settings")
application = get_wsgi_application()
