"""People and machines that use the web app: accounts, their roles and unit scopes, API tokens.

Passwords and tokens are never stored: an account keeps an argon2 hash of its password, a token
only the SHA-256 of its secret (a token is random, so a plain hash is enough to look it up).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.scheme import Unit
from store.models.vocab import ROLES, in_list
from store.types import UTCDateTime


class Account(Base):
    """A person (or a machine client's owner) with roles; ``locked_until`` after repeated failures."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint("failed_logins >= 0", name="failed_logins"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    roles: Mapped[list[AccountRole]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountRole.role"
    )
    units: Mapped[list[AccountUnit]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountUnit.unit_id"
    )

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(r.role for r in self.roles)


class AccountRole(Base):
    __tablename__ = "account_role"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role"),)

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

    account: Mapped[Account] = relationship(back_populates="roles")


class AccountUnit(Base):
    """A unit a reporter may report for and read (its scope); a unit belongs to one scheme."""

    __tablename__ = "account_unit"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)

    account: Mapped[Account] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class ApiToken(Base):
    """A bearer token for a machine client, acting as its account. Only the secret's hash is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists, to tell tokens apart
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship()
