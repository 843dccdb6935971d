"""Schemathesis fuzzes every operation of /api/v1/openapi.json through the WSGI app, as an admin
(bearer token) and as an anonymous caller, on a bounded budget with a fixed seed: no 5xx.

The budget is small so that `make test` stays quick (``KAOHE_FUZZ_EXAMPLES`` raises it); the
examples are derived deterministically (``derandomize``), so a failure repeats.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, make_engine
from tests.web.conftest import make_app
from workflows.accounts import issue_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error

EXAMPLES = int(os.environ.get("KAOHE_FUZZ_EXAMPLES", "6"))
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_app(module_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    engine = make_engine(module_demo_url)
    with Session(engine) as s, s.begin():
        admin = s.scalars(select(Account).where(Account.username == "admin")).one()
        TOKENS["admin"] = issue_token(s, admin, "fuzz", actor="test")[1]
    engine.dispose()
    app, app_engine = make_app(module_demo_url, tmp_path_factory.mktemp("fuzz"),
                               max_upload_bytes=64 * 1024)
    yield app
    app_engine.dispose()


@pytest.fixture(scope="module")
def operations(fuzz_app: Flask) -> list[object]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    found = [result.ok() for result in schema.get_all_operations()]  # an invalid schema fails here
    assert len(found) >= 30
    return found


BUDGET = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


def _fuzz(operations: list[object], headers: dict[str, str]) -> None:
    """Every operation under the budget; each operation's first server error is collected."""
    failures: list[str] = []
    for operation in operations:

        @BUDGET
        @given(case=operation.as_strategy())  # type: ignore[attr-defined]
        def check(case: object) -> None:
            response = case.call(headers=headers)  # type: ignore[attr-defined]
            case.validate_response(response, checks=[not_a_server_error])  # type: ignore[attr-defined]

        try:
            check()
        except Exception as exc:  # a check failure: note the operation and go on to the next
            failures.append(f"{operation.label}: {str(exc)[:2000]}")  # type: ignore[attr-defined]
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_no_server_error_anonymous(operations: list[object]) -> None:
    _fuzz(operations, {})


@pytest.mark.slow
def test_no_server_error_as_admin(operations: list[object]) -> None:
    _fuzz(operations, {"Authorization": f"Bearer {TOKENS['admin']}"})


def test_fuzz_budget_is_bounded() -> None:
    assert 1 <= EXAMPLES <= 1000
    assert Path(__file__).name == "test_fuzz_api.py"
