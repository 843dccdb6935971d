"""Kaohe on Python 3.11 to 3.13 (issue 23): durable-rules' build flag, and which Python make uses.

The run hash on each version is pinned by tests/test_run_hash.py; CI runs the suite on 3.11 and 3.13.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAG = "CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject"


def test_a_durable_rules_that_does_not_load_stops_the_import_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "durable_rules_engine.py").write_text(
        "raise ImportError('durable_rules_engine.so: undefined symbol: PyEval_CallObject')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import engine", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "undefined symbol: PyEval_CallObject" in last
    assert FLAG in last
    assert "docs/deploy.md" in last


def test_the_makefile_and_the_deploy_doc_build_durable_rules_with_the_same_flag_and_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (pin,) = [d for d in project["dependencies"] if d.startswith("durable-rules")]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DURABLE_CPPFLAGS := " + FLAG.removeprefix("CPPFLAGS=") in makefile
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert f"{FLAG} .venv/bin/pip install --no-cache-dir --no-binary durable-rules ." in deploy
    assert f"--no-binary durable-rules {pin}`" in deploy
    admitted = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", project["requires-python"])
    assert admitted is not None
    assert int(admitted[1]) <= sys.version_info.minor < int(admitted[2])


def test_make_says_which_python_it_uses_and_gives_each_version_its_own_venv() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV"}}
    said = subprocess.run(
        ["make", "-s", "python-info", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    minor = ".".join(platform.python_version_tuple()[:2])
    assert said.endswith(f"({platform.python_version()}), venv .venv-{minor}"), said
