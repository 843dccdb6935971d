"""Kaohe's outer layer: the Flask web app, the ``kaohe`` command line, and the settings and logging
both start from. The only package that reads the environment and the only one that imports Flask
or click; it calls the workflows and never the other way round.

Its rooms:

- ``app.py`` — :func:`~web.app.create_app`, the factory that binds the extensions, blueprints,
  error handlers and request hooks; ``wsgi.py`` the gunicorn entry; ``assets.py`` the paths served
  (templates, translations, the npm-installed chart library).
- ``config.py`` (every ``KAOHE_*`` variable read into :class:`~web.config.Settings`) and
  ``log.py`` (structlog, console or JSON lines).
- ``api/`` — the JSON API under /api/v1: its blueprint, what its modules share (``common.py``) and
  one module per family of resources (schemes, reporting, runs, packs, audit, cases, year).
- ``pages/`` — the server-rendered pages, likewise: their blueprint, what they share, one module
  per family (results, reporting, cases, year, audit).
- ``cli/`` — the ``kaohe`` commands: the group in ``main.py``, what the commands share in
  ``support.py``, one module per family of commands.
- ``security/`` — who may see and do what: login, roles and unit scope, published runs.
- ``files/`` — files in and out: appeal evidence, uploaded imports, audit export bundles.
- A request's plumbing: ``extensions.py`` and ``db.py`` (one session and transaction per
  request), ``reqlog.py`` (a request id on every log line), ``errors.py`` (domain and HTTP errors
  as JSON under /api, as a page elsewhere) and ``domain_text.py`` (a domain error in a page
  reader's language).
- What the API and the pages share: ``transitions.py`` (stated versions, idempotency keys, the JSON
  of cases and appeals) and ``packs.py`` (a rule-pack version, the diff of two, a draft's impact).
"""
