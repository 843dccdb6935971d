"""Domain errors and HTTP errors as JSON ``{error, message, request_id}`` under /api, HTML elsewhere.

The domain knows nothing of HTTP: NotFound → 404, Forbidden → 403, Invalid → 422, Conflict → 409
(an illegal transition or a stale version included), a refused batch → 409 with each subject's
problem in ``details``, a rule pack's PackError → 422, an import refused by the importer → 422 with
its row-level issues.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine import PackError
from web.domain_text import localized
from web.reqlog import request_id
from workflows.errors import (
    BatchRefused,
    Conflict,
    DomainError,
    Forbidden,
    IllegalTransition,
    Invalid,
    NotFound,
)
from workflows.imports import ImportIssue, ImportRejected

log = structlog.get_logger("kaohe.web")

ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    428: "precondition_required",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def error_response(status: int, message: str, *, details: Any = None) -> tuple[Response | str, int]:
    g._kaohe_error = True
    name = ERROR_NAMES.get(status, "error")
    if wants_json():
        body: dict[str, Any] = {"error": name, "message": message, "request_id": request_id()}
        if details is not None:
            body["details"] = details
        return jsonify(body), status
    return render_template("error.html", status=status, error=name, message=message,
                           details=details, request_id=request_id()), status


DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404), (Forbidden, 403), (Conflict, 409), (Invalid, 422),
)


def domain_status(exc: DomainError) -> int:
    return next((status for kind, status in DOMAIN_STATUS if isinstance(exc, kind)), 422)


def domain_details(exc: DomainError) -> Any:
    """What a client can act on: each refused subject of a batch, or the illegal transition."""
    if isinstance(exc, BatchRefused):
        return [{"id": sid, "message": message} for sid, message in exc.errors]
    if isinstance(exc, IllegalTransition):
        return {"subject": exc.subject, "id": exc.subject_id, "state": exc.state, "action": exc.action}
    return None


def _domain(exc: DomainError) -> tuple[Response | str, int]:
    message = str(exc) if wants_json() else localized(exc)  # the API keeps the workflow's words
    return error_response(domain_status(exc), message, details=domain_details(exc))


def _pack(exc: PackError) -> tuple[Response | str, int]:
    return error_response(422, str(exc))


def _rejected(exc: ImportRejected) -> tuple[Response | str, int]:
    details = [issue_dict(i) for i in exc.errors]
    return error_response(422, str(exc).splitlines()[0], details=details)


def issue_dict(issue: ImportIssue) -> dict[str, Any]:
    return {"file": issue.file, "sheet": issue.sheet, "row": issue.row, "column": issue.column,
            "message": issue.message}


def _http(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    details = getattr(exc, "details", None)
    data = getattr(exc, "data", None)  # webargs / flask-smorest validation messages
    if isinstance(data, dict) and "messages" in data:
        details = data["messages"]
        message = _("The request did not validate.") if status == 422 else (exc.description or "")
    elif status == 413:
        message = _("The upload is too large.")
    elif status == 404:
        message = _("Nothing was found at this address.")
    elif status == 403:
        message = exc.description if _custom(exc) else _("You may not see or do this.")
    elif status == 401:
        message = exc.description if _custom(exc) else _("Please log in first.")
    else:
        message = exc.description or exc.name
    return error_response(status, str(message), details=details)


def _custom(exc: HTTPException) -> bool:
    return bool(exc.description) and exc.description != type(exc).description


def _unexpected(exc: Exception) -> tuple[Response | str, int]:
    if isinstance(exc, HTTPException):
        return _http(exc)
    log.exception("unhandled error")
    return error_response(500, _("Something went wrong on our side; the request id identifies it."))


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(PackError, _pack)
    app.register_error_handler(ImportRejected, _rejected)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
