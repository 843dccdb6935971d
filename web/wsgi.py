"""The WSGI entry for gunicorn: ``gunicorn 'web.wsgi:app'`` (see docs/deploy.md)."""

from __future__ import annotations

from web.app import create_app
from web.config import load_settings
from web.log import configure_logging

_settings = load_settings()
configure_logging(production=_settings.is_production, level=_settings.log_level)
app = create_app(_settings)
