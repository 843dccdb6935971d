"""The server-rendered pages (the blueprint in :mod:`web.pages.blueprint`)."""
