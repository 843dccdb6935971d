"""Domain errors. They know nothing of HTTP; web/ maps them to 404 / 403 / 409 / 422."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause and should read."""


class NotFound(DomainError):
    """An id or code names nothing."""


class Invalid(DomainError):
    """Input that is well-formed but not acceptable (422)."""


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""


class Forbidden(DomainError):
    """The actor may not do this: a missing role, or a separation-of-duties rule (403)."""


class IllegalTransition(Conflict):
    """An action the state machine does not allow from the subject's current state (409)."""

    def __init__(self, subject: str, subject_id: int, state: str, action: str) -> None:
        super().__init__(f"{subject} {subject_id} is {state}: '{action}' is not allowed from {state}")
        self.subject, self.subject_id, self.state, self.action = subject, subject_id, state, action


class BatchRefused(Conflict):
    """A batch action refused as a whole (nothing changed); ``errors`` lists (subject id, message)."""

    def __init__(self, action: str, errors: list[tuple[int, str]]) -> None:
        lines = "; ".join(f"{sid}: {msg}" for sid, msg in errors)
        super().__init__(f"{action} refused for {len(errors)} item(s), nothing changed — {lines}")
        self.errors = tuple(errors)
