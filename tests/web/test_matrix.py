"""Role × endpoint × unit scope: every forbidden combination is refused on the server.

The demo reporter is scoped to C01 (青溪县). Anonymous callers get 401 from the API and a redirect
to the login page from pages; logged-in callers without the role get 403.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import ROLE_USERS, login

STAFF = {"admin", "office", "auditor", "reviewer", "committee"}
EVERYONE = STAFF | {"reporter"}
OFFICE = {"admin", "office"}
ROLES = ("anonymous", *sorted(EVERYONE))

# (path, roles allowed to read it): GET requests.
PAGES = [
    ("/dashboard", STAFF),
    ("/dashboard?category=department", STAFF),
    ("/runs", STAFF),
    ("/runs/2/units/C01", EVERYONE),          # the reporter's own unit
    ("/runs/2/units/C02", STAFF),             # another unit
    ("/runs/2/units/D01", STAFF),
    ("/progress", OFFICE | {"reporter"}),
    ("/imports", OFFICE),
    ("/me", EVERYONE),
    ("/runs/2/cases", STAFF),
    ("/appeals", EVERYONE),
    ("/runs/2/units/C01/appeal", {"office", "reporter"}),
    ("/runs/2/units/C02/appeal", {"office"}),
    ("/rule-packs", STAFF),
    ("/rule-packs/demo-city-2024/1", STAFF),
    ("/audit", STAFF),
    ("/adjustments", EVERYONE),
    ("/notices", EVERYONE),
    ("/verification", OFFICE),
    ("/schemes/DEMO-2024", STAFF),
]
API = [
    ("/api/v1/schemes", EVERYONE),
    ("/api/v1/schemes/DEMO-2024", EVERYONE),
    ("/api/v1/schemes/DEMO-2024/units", EVERYONE),
    ("/api/v1/schemes/DEMO-2024/indicators", EVERYONE),
    ("/api/v1/schemes/DEMO-2024/targets", EVERYONE),
    ("/api/v1/schemes/DEMO-2024/events", EVERYONE),
    ("/api/v1/schemes/DEMO-2024/lifecycle", EVERYONE),
    ("/api/v1/progress-reports", EVERYONE),
    ("/api/v1/rule-packs", STAFF),
    ("/api/v1/rule-packs/demo-city-2024/1", STAFF),
    ("/api/v1/runs", STAFF),
    ("/api/v1/runs/2", EVERYONE),
    ("/api/v1/runs/2/firings", EVERYONE),
    ("/api/v1/runs/2/score-sheets", EVERYONE),
    ("/api/v1/runs/2/score-sheets/C01", EVERYONE),
    ("/api/v1/runs/2/score-sheets/C02", STAFF),
    ("/api/v1/runs/2/units/C01/explanation", EVERYONE),
    ("/api/v1/runs/2/units/C02/explanation", STAFF),
    ("/api/v1/runs/2/cases", EVERYONE),
    ("/api/v1/appeals", EVERYONE),
    ("/api/v1/audit/verify", STAFF),
    ("/api/v1/audit/events", STAFF),
    ("/api/v1/rule-packs/demo-city-2024/1/diff?against=1", STAFF),
    ("/api/v1/adjustments", EVERYONE),
    ("/api/v1/notices", EVERYONE),
]
# (path, roles that get past the role check): the year's other cases' transitions and requests.
YEAR_WRITES = [
    ("/api/v1/adjustments", {"office", "reporter"}),
    ("/api/v1/adjustments/1/approve", {"office"}),
    ("/api/v1/adjustments/1/reject", {"office"}),
    ("/api/v1/verifications/reports", {"office"}),
    ("/api/v1/verifications/events", {"office"}),
    ("/api/v1/notices/1/respond", {"reporter"}),
    ("/api/v1/notices/1/close", {"office"}),
    ("/api/v1/notices/1/escalate", {"office"}),
    ("/adjustments/1/decide", {"office"}),
    ("/notices/1/respond", {"reporter"}),
    ("/notices/1/close", {"office"}),
    ("/notices/1/escalate", {"office"}),
    ("/runs/2/seal", {"committee"}),
]
PUBLIC = ["/public", "/login", "/healthz", "/readyz", "/api/v1/openapi.json", "/api/v1/published",
          "/audit/key", "/api/v1/audit/checkpoint"]


@pytest.fixture(scope="module")
def clients(shared_app: Flask) -> Iterator[dict[str, FlaskClient]]:
    out: dict[str, FlaskClient] = {"anonymous": shared_app.test_client()}
    for role, username in ROLE_USERS.items():
        client = shared_app.test_client()
        login(client, username)
        out[role] = client
    yield out


@pytest.mark.parametrize("role", ROLES)
def test_pages(clients: dict[str, FlaskClient], role: str) -> None:
    client = clients[role]
    for path, allowed in PAGES:
        response = client.get(path)
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"], path
        elif role in allowed:
            assert response.status_code in (200, 302), (role, path, response.status_code)
        else:
            assert response.status_code == 403, (role, path, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_api(clients: dict[str, FlaskClient], role: str) -> None:
    client = clients[role]
    for path, allowed in API:
        response = client.get(path)
        expected = 200 if role in allowed else 401 if role == "anonymous" else 403
        assert response.status_code == expected, (role, path, response.status_code)
        if expected != 200:
            assert response.get_json()["error"] in ("unauthorized", "forbidden")


@pytest.mark.parametrize("role", ROLES)
def test_public_endpoints(clients: dict[str, FlaskClient], role: str) -> None:
    for path in PUBLIC:
        assert clients[role].get(path).status_code == 200, (role, path)


def test_reporter_lists_only_its_units(clients: dict[str, FlaskClient]) -> None:
    reporter = clients["reporter"]
    units = reporter.get("/api/v1/schemes/DEMO-2024/units?page_size=200").get_json()
    assert [u["code"] for u in units["items"]] == ["C01"]
    sheets = reporter.get("/api/v1/runs/2/score-sheets?page_size=200").get_json()
    assert {s["unit"] for s in sheets["items"]} == {"C01"}
    firings = reporter.get("/api/v1/runs/2/firings?page_size=200").get_json()
    assert firings["total"] > 0 and {f["unit"] for f in firings["items"]} == {"C01"}
    targets = reporter.get("/api/v1/schemes/DEMO-2024/targets?page_size=200").get_json()
    assert {t["unit"] for t in targets["items"]} == {"C01"}
    office_units = clients["office"].get("/api/v1/schemes/DEMO-2024/units?page_size=200").get_json()
    assert office_units["total"] == 75


def test_reporter_cannot_open_another_units_firing(clients: dict[str, FlaskClient]) -> None:
    office = clients["office"]
    other = office.get("/api/v1/runs/2/firings?unit=C02&page_size=1").get_json()["items"][0]["seq"]
    own = office.get("/api/v1/runs/2/firings?unit=C01&page_size=1").get_json()["items"][0]["seq"]
    reporter = clients["reporter"]
    assert reporter.get(f"/runs/2/firings/{other}").status_code == 403
    assert reporter.get(f"/api/v1/runs/2/firings/{other}").status_code == 403
    assert reporter.get(f"/runs/2/firings/{own}").status_code == 200
    assert reporter.get(f"/api/v1/runs/2/firings/{own}").status_code == 200


def test_writes_are_refused_to_other_roles(clients: dict[str, FlaskClient]) -> None:
    """POSTs by roles that may not write are refused before the CSRF or body is even looked at."""
    for role in ROLES:
        client = clients[role]
        run = client.post("/api/v1/runs", json={"scheme": "DEMO-2024", "period": "2024-Q3"})
        imp = client.post("/api/v1/imports")
        if role == "anonymous":
            assert run.status_code == imp.status_code == 401
        elif role not in OFFICE:
            # session callers without the CSRF header stop at 400 first; with it, at 403
            assert run.status_code in (400, 403) and imp.status_code in (400, 403), role


@pytest.mark.parametrize("role", ROLES)
def test_year_case_writes_are_refused_to_other_roles(clients: dict[str, FlaskClient], role: str) -> None:
    """Adjustments, verification and notices: a role without the right is refused before the body
    is read (401 anonymous, 403 otherwise, with or without the CSRF header)."""
    client = clients[role]
    for path, allowed in YEAR_WRITES:
        response = client.post(path, json={})
        if role == "anonymous":  # a page checks the CSRF token before the login (400 without it)
            assert response.status_code in ((401,) if path.startswith("/api/") else (400, 401)), path
        elif role not in allowed:
            assert response.status_code in (400, 403), (role, path, response.status_code)
        else:
            assert response.status_code not in (401, 403), (role, path, response.status_code)
