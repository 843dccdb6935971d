"""``kaohe serve``: the web app on Werkzeug's development server (gunicorn in production)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from web.cli import AppContext


def serve_app(app: AppContext, host: str, port: int) -> None:
    from web.app import create_app

    flask_app = create_app(app.settings, engine=app.engine)
    click.echo(f"serving Kaohe on http://{host}:{port}/ (Ctrl-C stops it; use gunicorn in production)")
    flask_app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default KAOHE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default KAOHE_PORT or 5000).")
@click.pass_obj
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the web app (development server; see docs/deploy.md for gunicorn)."""
    serve_app(app, host or app.settings.host, port or app.settings.port)
