"""One assessment run: a snapshot and a pack in, a :class:`~engine.result.RunResult` out.

The stages, in the order ``evaluate`` calls them: ``snapshot_check`` → ``derive`` (with
``compose`` for the on-demand fields) → ``matching`` (through ``durable_host``, the only door to
durable_rules, with ``forked`` workers for large runs) → ``effects`` (drafts of firings) →
``adjust`` (overrides, caps, resets, floors) → ``sheets`` and ``sheetrules`` → ``grading`` →
``render`` (the firings' texts). ``drafts`` holds firings while they may still change.
"""
