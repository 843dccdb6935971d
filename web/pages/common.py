"""What the page modules share: the form of buttons only and the refusal of a stale one, and the
rows a list page shows (the reader's units', in the state the address asks for, newest first)."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_wtf import FlaskForm
from sqlalchemy import Select

from web.extensions import db
from web.security.policy import current


class ActionForm(FlaskForm):
    """A form of buttons only (open cases, publish, take an appeal, seal): its CSRF token."""


def require_valid(form: FlaskForm | None = None) -> None:
    """400 unless ``form`` (by default a form of buttons only) was posted with a valid CSRF token."""
    if not (form if form is not None else ActionForm()).validate_on_submit():
        abort(400, description="the form's CSRF token is missing or stale")


def listed(query: Select[Any], unit_column: Any, state_column: Any, newest: Any,
           limit: int) -> tuple[list[Any], str]:
    """The rows of a list page and the state it shows: the reader's units' only (staff read all),
    in the state ``?state=`` names (all when none), newest first, at most ``limit``."""
    p = current()
    if not p.is_staff:
        query = query.where(unit_column.in_(p.unit_ids or {-1}))
    state = request.args.get("state", "")
    if state:
        query = query.where(state_column == state)
    return list(db.session().scalars(query.order_by(newest.desc()).limit(limit))), state
