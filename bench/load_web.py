"""Load test of the scorecard and explanation endpoints under gunicorn, on loopback only.

    python bench/load_web.py [--db PATH | --url postgresql://…] [--workers 2] [--clients 8]
                             [--requests 400] [--seconds 60] [--only NAME …]

SQLite (``--db``, default bench/data/province.db): copies the province data set (bench/generate.py:
5,000 units) to a temporary directory and works on the copy; the source is never written.
PostgreSQL (``--url``): works on that database in place — give it one of your own, made with
``bench/generate.py --url …``. Either way the database is migrated to the latest schema, a run is
stored with bench/run_year.py when there is none (else the newest complete run is used), and a
``bench`` auditor is added (password and API token). Then ``gunicorn -w WORKERS`` starts on
127.0.0.1 and each endpoint is driven with CLIENTS threads (keep-alive connections) until
REQUESTS requests or SECONDS seconds, whichever comes first: the JSON scorecard and explanation
with the bearer token, one firing explained, and the HTML scorecard page with a logged-in session
(each client logs in through the login form, CSRF token included). Prints requests per second and
p50/p95/p99 latency per endpoint; every response must be 200. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from store import Account, Firing, Run, Unit, make_engine  # noqa: E402
from store import migrate as store_migrate  # noqa: E402
from workflows.accounts import create_account, hash_password, issue_token  # noqa: E402

DEFAULT_DB = ROOT / "bench" / "data" / "province.db"
ENDPOINTS = ("sheet", "explanation", "firing", "page")
VENV_BIN = Path(sys.executable).parent


@dataclass
class Target:
    run_id: int
    units: list[str]
    firings: list[int]
    token: str
    password: str


def prepare(url: str, *, sample: int, seed: int) -> Target:
    """A run in the database (stored by bench/run_year.py if missing), an auditor, sample paths."""
    engine = make_engine(url)
    store_migrate.upgrade(engine)  # a data set made before the latest migrations (indexes)
    with Session(engine) as s:
        has_run = s.scalar(select(Run.id).where(Run.status == "complete").limit(1)) is not None
    if not has_run:
        print("storing a run with bench/run_year.py (one-off) …", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "bench" / "run_year.py"), "--url", url, "--commit",
                        "--no-raw", "--quiet"], check=True, cwd=ROOT)
    rng = random.Random(seed)
    with Session(engine) as s, s.begin():
        run = s.scalars(select(Run).where(Run.status == "complete").order_by(Run.id.desc())).first()
        assert run is not None
        units = list(s.scalars(select(Unit.code).where(Unit.scheme_id == run.scheme_id).order_by(Unit.code)))
        seqs = list(s.scalars(select(Firing.seq).where(Firing.run_id == run.id,
                                                       Firing.effect.in_(("deduction", "score")))))
        password = secrets.token_hex(16)
        account = s.scalars(select(Account).where(Account.username == "bench")).one_or_none()
        if account is None:
            account = create_account(s, "bench", password, display_name="bench", roles=["auditor"],
                                     actor="bench")
        else:
            account.password_hash = hash_password(password)
        token = issue_token(s, account, "load_web", actor="bench")[1]
        target = Target(run.id, rng.sample(units, min(sample, len(units))),
                        rng.sample(seqs, min(sample, len(seqs))), token, password)
    engine.dispose()
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(url: str, port: int, workers: int, instance: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAOHE_DATABASE_URL": url, "KAOHE_ENV": "production",
           "KAOHE_SECRET_KEY": secrets.token_hex(32), "KAOHE_LOG_LEVEL": "WARNING",
           "KAOHE_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--timeout", "120", "web.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {proc.stderr.read().decode() if proc.stderr else ''}")
    proc.terminate()
    raise RuntimeError("gunicorn did not become ready in 60 s")


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000

    def as_dict(self) -> dict[str, Any]:
        n = len(self.latencies)
        return {"endpoint": self.name, "requests": n, "errors": self.errors,
                "seconds": round(self.seconds, 2),
                "rps": round(n / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": round(self.percentile(50), 1), "p95_ms": round(self.percentile(95), 1),
                "p99_ms": round(self.percentile(99), 1)}


CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _cookie(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]


def log_in(port: int, username: str, password: str) -> dict[str, str]:
    """Log in through the form as a browser does; the headers that carry the session cookie."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        page = response.read().decode("utf-8")
        _cookie(response, jar)
        found = CSRF_INPUT.search(page)
        if found is None:
            raise RuntimeError("the login page has no CSRF token")
        body = urllib.parse.urlencode({"csrf_token": found.group(1), "username": username,
                                       "password": password})
        conn.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
        response = conn.getresponse()
        response.read()
        _cookie(response, jar)
        if response.status != 302:
            raise RuntimeError(f"login answered {response.status}")
    finally:
        conn.close()
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}


def drive(port: int, name: str, paths: list[str], headers: dict[str, str] | None, *, clients: int,
          requests: int, seconds: float, login: tuple[str, str] | None = None) -> Result:
    """CLIENTS threads share a budget of REQUESTS requests, stopping at SECONDS. With ``login``
    each client first logs in (not timed) and sends its own session cookie."""
    result = Result(name)
    lock = threading.Lock()
    issued = [0]
    sessions = [log_in(port, *login) for _ in range(clients)] if login else [headers or {}] * clients
    start = time.perf_counter()
    stop_at = start + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        rng = random.Random(index)
        headers = sessions[index]
        while True:
            with lock:
                if issued[0] >= requests or time.perf_counter() >= stop_at:
                    break
                issued[0] += 1
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status = 0
            elapsed = time.perf_counter() - t0
            with lock:
                if status == 200:
                    result.latencies.append(elapsed)
                else:
                    result.errors[status] = result.errors.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="SQLite data set (copied, never written)")
    parser.add_argument("--url", default=None,
                        help="a PostgreSQL database of your own to use in place (instead of --db)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=60.0, help="per endpoint")
    parser.add_argument("--sample", type=int, default=200, help="distinct units / firings requested")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--only", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS),
                        help="drive only these endpoints")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.url is None and not args.db.is_file():
        print(f"{args.db} is missing: run `python bench/generate.py` first", file=sys.stderr)
        return 2
    if args.url is not None and not args.url.startswith("postgresql"):
        print("--url is for PostgreSQL; SQLite data sets go by --db (and are copied)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kaohe-load-") as tmp:
        if args.url is not None:
            url = args.url
        else:
            db = Path(tmp) / "province.db"
            shutil.copyfile(args.db, db)
            url = f"sqlite:///{db}"
        target = prepare(url, sample=args.sample, seed=args.seed)
        port = free_port()
        server = start_gunicorn(url, port, args.workers, Path(tmp) / "instance")
        try:
            bearer = {"Authorization": f"Bearer {target.token}"}
            r = target.run_id
            plan = {
                "sheet": ("GET /api/v1/runs/{run}/score-sheets/{unit}",
                          [f"/api/v1/runs/{r}/score-sheets/{u}" for u in target.units]),
                "explanation": ("GET /api/v1/runs/{run}/units/{unit}/explanation",
                                [f"/api/v1/runs/{r}/units/{u}/explanation" for u in target.units]),
                "firing": ("GET /api/v1/runs/{run}/firings/{seq}",
                           [f"/api/v1/runs/{r}/firings/{s}" for s in target.firings]),
                "page": ("GET /runs/{run}/units/{unit} (HTML, logged in)",
                         [f"/runs/{r}/units/{u}" for u in target.units]),
            }
            results = [
                drive(port, plan[key][0], plan[key][1], None if key == "page" else bearer,
                      clients=args.clients, requests=args.requests, seconds=args.seconds,
                      login=("bench", target.password) if key == "page" else None)
                for key in ENDPOINTS if key in args.only
            ]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # a request still in flight past the budget
                server.kill()
                server.wait(15)
    figures = {"run": target.run_id, "backend": url.split(":", 1)[0], "workers": args.workers,
               "clients": args.clients, "sample": args.sample,
               "load_average": [round(x, 2) for x in os.getloadavg()],
               "endpoints": [res.as_dict() for res in results]}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"run {target.run_id} ({figures['backend']}), gunicorn -w {args.workers}, "
              f"{args.clients} clients, {len(target.units)} units sampled, "
              f"load average {figures['load_average']}")
        print(f"{'endpoint':52} {'req':>5} {'err':>4} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for e in figures["endpoints"]:
            print(f"{e['endpoint']:52} {e['requests']:>5} {sum(e['errors'].values()):>4} {e['rps']:>7} "
                  f"{e['p50_ms']:>8} {e['p95_ms']:>8} {e['p99_ms']:>8}")
    return 0 if all(not e["errors"] for e in figures["endpoints"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
