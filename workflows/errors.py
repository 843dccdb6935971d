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
