"""The JSON API under /api/v1: the blueprint in :mod:`web.api.blueprint`, what its modules share in
:mod:`web.api.common`, and one module per family of resources adding its endpoints to the
blueprint (registered by :func:`web.app.create_app`)."""
