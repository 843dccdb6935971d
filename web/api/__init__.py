"""The JSON API under /api/v1 (the blueprint in :mod:`web.api.blueprint`)."""
