"""The only door to durable_rules: a guarded, process-wide host.

Guards, each against a measured bug (see docs/durable-rules.md):
- one lock serialises every call (the C core has none); the background dispatcher never starts;
- each rule's action is a closure that knows its rule; exceptions raised in it are captured and
  re-raised after the call instead of vanishing into the session state;
- a ruleset name is registered once and cached (re-registering fails) and a deep copy is
  registered (durable mutates what it is given);
- one message per call (batches leak work to the dispatcher);
- each session is a fresh sid opened by a sentinel fact that always fires (deleting a session in
  which nothing fired can crash) and deleted right after: one live sid per ruleset at a time,
  far below the 1024 limit;
- "already observed" means a 32-bit id-hash collision: the session is thrown away and replayed
  in a fresh sid with salted fact ids.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import durable_rules_engine as _core  # type: ignore[import-not-found]
except ImportError as error:  # at `kaohe` start, never at the first run (docs/deploy.md, Install)
    raise ImportError(
        f"durable-rules' C extension does not load ({error}). On Python 3.13 and newer it must be "
        "built from source with CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject, as `make install` "
        "does: reinstall it as docs/deploy.md (Install) shows"
    ) from error
import orjson
from durable.engine import Host, MessageObservedException

from engine.values.canonical import canonical_json, sha256_hex

OPEN_TYPE = "s:__open__"
MAX_LIVE_SIDS = 1024
_ATTEMPTS = 4


class DurableError(RuntimeError):
    """durable_rules misbehaved in a way the engine refuses to paper over."""


class ActionError(DurableError):
    """An exception raised inside a rule action, re-raised to the caller after the call."""


@dataclass(frozen=True)
class RuleSpec:
    """One compiled rule: its key in the ruleset, what its firing records, its expression."""

    key: str
    rule_id: str
    rule_version: int
    pack_sha256: str
    expression: Mapping[str, Any]


@dataclass(frozen=True)
class Match:
    rule_id: str
    rule_version: int
    pack_sha256: str
    fact_id: str


@dataclass
class _Session:
    ids: dict[str, str]  # id as sent (maybe salted) → fact id
    on_match: Callable[[Match], None] | None = None
    matches: list[Match] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    opened: bool = False


class _QuietHost(Host):  # type: ignore[misc]
    def _run(self) -> None:
        """No dispatcher or timer threads: actions run in the calling thread, inside the call."""


class DurableHost:
    """One per process: use :func:`host`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._host = _QuietHost()
        self._digests: dict[str, str] = {}
        self._current: _Session | None = None
        self._sids = itertools.count(1)
        self._live: dict[str, int] = {}
        self.messages = 0  # every message asserted so far (facts and session sentinels), for benchmarks
        self._rulesets: dict[str, tuple[Any, dict[str, Callable[[Mapping[str, Any]], None]]]] = {}

    def ensure_ruleset(self, name: str, rules: Sequence[RuleSpec]) -> None:
        """Register ``name`` once; a later call must describe the very same rules."""
        digest = sha256_hex(
            canonical_json(
                [[r.key, r.rule_id, r.rule_version, r.pack_sha256, dict(r.expression)] for r in rules]
            )
        )
        with self._lock:
            known = self._digests.get(name)
            if known is not None:
                if known != digest:
                    raise DurableError(f"ruleset {name} is already registered with other rules")
                return
            # A fresh dict of deep-copied expressions: durable deletes "run" from what it gets.
            fires: dict[str, Callable[[Mapping[str, Any]], None]] = {"__open__": self._opened}
            definition: dict[str, Any] = {
                "__open__": {"all": [{"m": {"t": OPEN_TYPE}}], "run": _closure_action(self._opened)}
            }
            for r in rules:
                fires[r.key] = self._action(r)
                definition[r.key] = {
                    "all": [{"m": copy.deepcopy(dict(r.expression))}],
                    "run": _closure_action(fires[r.key]),
                }
            self._host.register_rulesets({name: definition})
            self._rulesets[name] = (self._host.get_ruleset(name)._handle, fires)
            self._digests[name] = digest

    def registered(self, name: str) -> bool:
        return name in self._digests

    def live_sids(self, name: str) -> int:
        return self._live.get(name, 0)

    def _opened(self, fact: Mapping[str, Any]) -> None:
        if self._current is not None:
            self._current.opened = True

    def _action(self, rule: RuleSpec) -> Callable[[Mapping[str, Any]], None]:
        def action(fact: Mapping[str, Any]) -> None:
            session = self._current
            if session is None:
                return
            try:
                sent = str(fact["id"])
                if sent not in session.ids:
                    raise DurableError(f"rule {rule.rule_id} matched fact {sent} of another session")
                match = Match(rule.rule_id, rule.rule_version, rule.pack_sha256, session.ids[sent])
                if session.on_match is not None:
                    session.on_match(match)
                session.matches.append(match)
            except BaseException as exc:
                session.errors.append(exc)

        return action

    def run_session(
        self,
        name: str,
        facts: Sequence[tuple[str, Mapping[str, Any]]],
        on_match: Callable[[Match], None] | None = None,
    ) -> list[Match]:
        """Assert ``facts`` ((fact id, encoded fields) pairs) one at a time in a fresh session of
        ruleset ``name`` and return every (rule, fact) match; the session is deleted afterwards."""
        with self._lock:
            if name not in self._digests:
                raise DurableError(f"ruleset {name} is not registered")
            for attempt in range(_ATTEMPTS):
                result = self._attempt(name, facts, attempt, on_match)
                if result is not None:
                    return result
            raise DurableError(f"ruleset {name}: fact-id hash collisions in {_ATTEMPTS} fresh sessions")

    def _attempt(
        self,
        name: str,
        facts: Sequence[tuple[str, Mapping[str, Any]]],
        attempt: int,
        on_match: Callable[[Match], None] | None,
    ) -> list[Match] | None:
        sid = f"k{next(self._sids)}"
        salt = f"#{attempt}" if attempt else ""
        session = _Session({f"{fid}{salt}": fid for fid, _ in facts}, on_match)
        if len(session.ids) != len(facts):
            raise DurableError(f"ruleset {name}: duplicate fact ids in one session")
        if self._live.get(name, 0) >= MAX_LIVE_SIDS - 1:
            raise DurableError(f"ruleset {name}: {MAX_LIVE_SIDS} live sessions")
        self._current = session
        self._live[name] = self._live.get(name, 0) + 1
        try:
            self._assert(name, {"sid": sid, "id": f"__open__{salt}", "t": OPEN_TYPE}, session)
            if not session.opened:
                raise DurableError(f"ruleset {name}: the session sentinel did not fire")
            for fid, fields in facts:
                self._assert(name, {**fields, "sid": sid, "id": f"{fid}{salt}"}, session)
            return session.matches
        except MessageObservedException:
            return None  # a 32-bit id-hash collision: replay in a fresh sid with salted ids
        finally:
            self._current = None
            if session.opened:
                self._host.delete_state(name, sid)
                self._live[name] -= 1

    def _assert(self, name: str, message: dict[str, Any], session: _Session) -> None:
        """Assert one fact and run the actions it fires, in this thread, before returning.

        The same calls into durable's C core, in the same order, as ``Host.assert_fact`` with no
        dispatcher: assert, then start / complete each action of the fact's state; only the
        Python around them is ours (no closure objects, no state re-serialised per firing: the
        actions never change the state, so it goes back as it came)."""
        self.messages += 1
        handle, fires = self._rulesets[name]
        result = _core.assert_fact(handle, orjson.dumps(message).decode("utf-8"))
        if result[0] == 2:
            raise MessageObservedException(message)
        if result[0] != 1:  # 1: no rule matched, a normal outcome
            state_handle = 0 if result[0] == 3 else result[1]
            started = _core.start_action_for_state(handle, state_handle)
            if started:
                state, fired = started[0], orjson.loads(started[1])
                try:
                    while fired:
                        key, matched = next(iter(fired.items()))
                        fires[key](matched["m"])  # records the match or the error, never raises
                        _core.update_state(handle, state)
                        following = _core.complete_and_start_action(handle, state_handle)
                        fired = orjson.loads(following) if following else None
                except BaseException:
                    _core.abandon_action(handle, state_handle)
                    raise
        if session.errors:
            error = session.errors[0]
            if isinstance(error, DurableError):
                raise error
            raise ActionError(f"a rule action failed: {error!r}") from error


def _closure_action(fire: Callable[[Mapping[str, Any]], None]) -> Callable[[Any], None]:
    """The action durable itself would call (through ``Host``), should anything go that way."""

    def action(c: Any) -> None:
        fire(c.m)

    return action


_HOST: DurableHost | None = None
_HOST_LOCK = threading.Lock()


def host() -> DurableHost:
    """The process-wide host (durable_rules' state is global to the process anyway)."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None:
            _HOST = DurableHost()
        return _HOST
