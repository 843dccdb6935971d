"""``kaohe serve``: the web app on Werkzeug's development server (gunicorn in production)."""

from __future__ import annotations

import click

from web.cli.support import AppContext, serve_app


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default KAOHE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default KAOHE_PORT or 5000).")
@click.pass_obj
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the web app (development server; see docs/deploy.md for gunicorn)."""
    serve_app(app, host or app.settings.host, port or app.settings.port)
