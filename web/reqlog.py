"""A request id per request: taken from a well-formed ``X-Request-ID`` or made, bound into structlog
for every line logged during the request, and returned in the response's ``X-Request-ID``."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
log = structlog.get_logger("kaohe.web")


def request_id() -> str:
    rid: str = g.get("request_id", "")
    return rid


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(_clear)


def _begin() -> None:
    incoming = request.headers.get(HEADER, "")
    rid = incoming if _WELL_FORMED.match(incoming) else uuid.uuid4().hex
    g.request_id = rid
    g.request_started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid, method=request.method, path=request.path)


def _end(response: Response) -> Response:
    rid = request_id()
    if rid:
        response.headers[HEADER] = rid
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    log.info("request", status=response.status_code, ms=round(elapsed, 1))
    return response


def _clear(_exc: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()
