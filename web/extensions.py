"""The Flask extensions, made once and bound to an app in :func:`web.app.create_app` (init_app)."""

from __future__ import annotations

from flask_babel import Babel
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

from web.db import Database

babel = Babel()
csrf = CSRFProtect()
api = Api()
db = Database()
