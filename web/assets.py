"""Paths the app serves from: templates, translations and the npm-installed front-end assets.

Front-end assets come from the npm registry through `npm ci` (package.json at the repository
root) and are served from node_modules by the app itself, never from a CDN.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
NODE_MODULES = ROOT.parent / "node_modules"
VENDOR_FILES = {"chart.umd.js": NODE_MODULES / "chart.js" / "dist" / "chart.umd.js"}


def chart_available() -> bool:
    return VENDOR_FILES["chart.umd.js"].is_file()
