"""The ``pages`` blueprint: server-rendered HTML for every role, Chinese by default.

Each view names who may open it (web.security.policy) and checks unit scope on the server;
anonymous readers reach only the public disclosure page and login. The views live in the modules
of this package, one per family of pages, each adding its routes to :data:`bp`;
:func:`web.app.create_app` imports them and registers the blueprint. Every template sees the
reader's language and principal and the role groups (:func:`inject`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_babel import get_locale

from web.security.policy import OFFICE, REPORTERS, STAFF, current

bp = Blueprint("pages", __name__)


def lang() -> str:
    return str(get_locale() or "zh")


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"lang": lang(), "principal": current(), "STAFF": STAFF, "OFFICE": OFFICE,
            "REPORTERS": REPORTERS}
