"""``kaohe user add/list`` and ``kaohe token issue/revoke``: accounts and API tokens from the shell."""

from __future__ import annotations

import click

from store.models.vocab import ROLES
from web.cli.support import AppContext
from workflows.accounts import create_account, get_account, issue_token, list_accounts, revoke_token
from workflows.errors import DomainError


@click.group("user")
def user_group() -> None:
    """Web accounts: add and list."""


@user_group.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Display name (e.g. 王芳 or 市考核办).")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role; repeat for several.")
@click.option("--scheme", default=None, help="Scheme code the --unit codes belong to.")
@click.option("--unit", "units", multiple=True, help="A unit code of a reporter's scope; repeatable.")
@click.password_option("--password", help="The password (prompted for when not given).")
@click.pass_obj
def add_user(app: AppContext, username: str, display_name: str, roles: tuple[str, ...],
             scheme: str | None, units: tuple[str, ...], password: str) -> None:
    """Create account USERNAME with roles (a reporter needs --scheme and --unit)."""
    app.prove("account.create", required=False)
    try:
        with app.transaction() as session:
            account = create_account(session, username, password, display_name=display_name, roles=roles,
                                     actor=app.settings.actor, scheme_code=scheme, unit_codes=units)
            click.echo(f"account {account.username} created: roles {', '.join(account.role_names)}"
                       + (f"; units {', '.join(units)}" if units else ""))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


@user_group.command("list")
@click.pass_obj
def list_users(app: AppContext) -> None:
    """Every account with its roles, unit scope and lock state."""
    with app.transaction() as session:
        for a in list_accounts(session):
            units = ",".join(u.unit.code for u in a.units)
            locked = f"\tlocked until {a.locked_until:%Y-%m-%d %H:%M}" if a.locked_until else ""
            click.echo(f"{a.username}\t{a.display_name}\t{','.join(a.role_names)}\t{units or '-'}{locked}")


@click.group("token")
def token_group() -> None:
    """API tokens for machine clients (e.g. a statistics bureau pushing progress)."""


@token_group.command("issue")
@click.argument("username")
@click.option("--name", required=True, help="What uses the token.")
@click.pass_obj
def issue(app: AppContext, username: str, name: str) -> None:
    """Issue a token acting as USERNAME; the secret is printed once."""
    app.prove("token.issue", required=False)
    try:
        with app.transaction() as session:
            token, secret = issue_token(session, get_account(session, username), name,
                                        actor=app.settings.actor)
            click.echo(f"token {token.id} ({token.prefix}…) for {username}: {secret}")
            click.echo("keep it now: only its hash is stored")
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


@token_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def revoke(app: AppContext, token_id: int) -> None:
    """Revoke token TOKEN_ID."""
    app.prove("token.revoke", required=False)
    try:
        with app.transaction() as session:
            revoke_token(session, token_id, actor=app.settings.actor)
            click.echo(f"token {token_id} revoked")
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
