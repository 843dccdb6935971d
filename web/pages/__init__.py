"""The server-rendered pages: the blueprint in :mod:`web.pages.blueprint`, what the page modules
share in :mod:`web.pages.common`, and one module per family of pages adding its views to the
blueprint (registered by :func:`web.app.create_app`)."""
