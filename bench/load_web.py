"""Load test of the scorecard and explanation endpoints under gunicorn, on loopback only.

    python bench/load_web.py [--db PATH] [--workers 2] [--clients 8] [--requests 400] [--seconds 60]

Copies the province data set (bench/generate.py: 5,000 units) to a temporary directory, migrates
the copy to the latest schema, stores a
run there with bench/run_year.py when it has none (or uses the copy's newest run), adds a
``bench`` auditor with an API token, starts ``gunicorn -w WORKERS`` on 127.0.0.1 and drives each
endpoint with CLIENTS threads (keep-alive connections) until REQUESTS requests or SECONDS seconds,
whichever comes first. Prints requests per second and p50/p95/p99 latency per endpoint; every
response must be 200. Nothing leaves the machine and the source database is never written.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
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
from workflows.accounts import create_account, issue_token  # noqa: E402

DEFAULT_DB = ROOT / "bench" / "data" / "province.db"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Target:
    run_id: int
    units: list[str]
    firings: list[int]
    token: str


def prepare(db: Path, *, sample: int, seed: int) -> Target:
    """A run on the copy (stored by bench/run_year.py if missing), an auditor token, sample paths."""
    url = f"sqlite:///{db}"
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
        account = s.scalars(select(Account).where(Account.username == "bench")).one_or_none()
        if account is None:
            account = create_account(s, "bench", secrets.token_hex(16), display_name="bench",
                                     roles=["auditor"], actor="bench")
        token = issue_token(s, account, "load_web", actor="bench")[1]
        target = Target(run.id, rng.sample(units, min(sample, len(units))),
                        rng.sample(seqs, min(sample, len(seqs))), token)
    engine.dispose()
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(db: Path, port: int, workers: int, instance: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAOHE_DATABASE_URL": f"sqlite:///{db}", "KAOHE_ENV": "production",
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


def drive(port: int, name: str, paths: list[str], headers: dict[str, str], *, clients: int, requests: int,
          seconds: float) -> Result:
    """CLIENTS threads share a budget of REQUESTS requests, stopping at SECONDS."""
    result = Result(name)
    lock = threading.Lock()
    issued = [0]
    start = time.perf_counter()
    stop_at = start + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        rng = random.Random(index)
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
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the data set (copied, never written)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=60.0, help="per endpoint")
    parser.add_argument("--sample", type=int, default=200, help="distinct units / firings requested")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"{args.db} is missing: run `python bench/generate.py` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kaohe-load-") as tmp:
        db = Path(tmp) / "province.db"
        shutil.copyfile(args.db, db)
        target = prepare(db, sample=args.sample, seed=args.seed)
        port = free_port()
        server = start_gunicorn(db, port, args.workers, Path(tmp) / "instance")
        try:
            bearer = {"Authorization": f"Bearer {target.token}"}
            r = target.run_id
            plan = [
                ("GET /api/v1/runs/{run}/score-sheets/{unit}",
                 [f"/api/v1/runs/{r}/score-sheets/{u}" for u in target.units]),
                ("GET /api/v1/runs/{run}/units/{unit}/explanation",
                 [f"/api/v1/runs/{r}/units/{u}/explanation" for u in target.units]),
                ("GET /api/v1/runs/{run}/firings/{seq}",
                 [f"/api/v1/runs/{r}/firings/{s}" for s in target.firings]),
            ]
            results = [drive(port, name, paths, bearer, clients=args.clients, requests=args.requests,
                             seconds=args.seconds) for name, paths in plan]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # a request still in flight past the budget
                server.kill()
                server.wait(15)
    figures = {"run": target.run_id, "workers": args.workers, "clients": args.clients,
               "load_average": [round(x, 2) for x in os.getloadavg()],
               "endpoints": [res.as_dict() for res in results]}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"run {target.run_id}, gunicorn -w {args.workers}, {args.clients} clients, "
              f"load average {figures['load_average']}")
        print(f"{'endpoint':52} {'req':>5} {'err':>4} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for e in figures["endpoints"]:
            print(f"{e['endpoint']:52} {e['requests']:>5} {sum(e['errors'].values()):>4} {e['rps']:>7} "
                  f"{e['p50_ms']:>8} {e['p95_ms']:>8} {e['p99_ms']:>8}")
    return 0 if all(not e["errors"] for e in figures["endpoints"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
