# mypy: disallow-subclassing-any=False
"""What the page modules share about forms: the form of buttons only (its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A form of buttons only (open cases, publish, take an appeal): its CSRF token."""
