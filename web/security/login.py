"""The ``auth`` blueprint: login (with lockout), logout, and the language switch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from web.config import Settings
from web.db import keep_on_error
from web.extensions import db
from web.security.policy import allow, current, public
from workflows.accounts import authenticate

bp = Blueprint("auth", __name__)
LANGUAGES = ("zh", "en")


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.home")


def settings() -> Settings:
    s: Settings = current_app.config["KAOHE_SETTINGS"]
    return s


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        cfg = settings()
        result = authenticate(db.session(), form.username.data or "", form.password.data or "",
                              threshold=cfg.lockout_threshold, lock_minutes=cfg.lockout_minutes)
        if result.outcome == "ok" and result.account is not None:
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["account_id"] = result.account.id
            if lang in LANGUAGES:
                session["lang"] = lang
            return redirect(safe_next(request.args.get("next")))
        keep_on_error()  # the failure counter and lock must be kept
        status = 401
        if result.outcome == "locked" and result.locked_until is not None:
            until = format_datetime(result.locked_until.astimezone(dt.UTC), "yyyy-MM-dd HH:mm 'UTC'")
            flash(_("Too many failed logins: this account is locked until %(until)s.", until=until),
                  "error")
        else:
            flash(_("Wrong username or password."), "error")
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@allow()
def logout() -> Any:
    lang = session.get("lang")
    session.clear()
    if lang in LANGUAGES:
        session["lang"] = lang
    flash(_("You are logged out."), "info")
    return redirect(url_for("pages.public_results"))


@bp.route("/lang/<code>")
@public
def set_language(code: str) -> Any:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


def locale() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh"


def whoami() -> dict[str, Any]:
    p = current()
    return {"principal": p}
