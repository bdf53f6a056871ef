"""``flask gamify keys``: create, list and revoke REST API keys."""

from __future__ import annotations

import click

from ..errors import GamifyError, InvalidInputError
from ..state import get_state
from .keys import SCOPES

__all__ = ["keys_group"]


def _failure(error: GamifyError) -> click.ClickException:
    """The error as one line; the options already name the fields."""
    if isinstance(error, InvalidInputError):
        return click.ClickException(" ".join(m for msgs in error.errors.values() for m in msgs))
    return click.ClickException(str(error))


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke REST API keys."""


@keys_group.command("create")
@click.argument("name")
@click.option(
    "--scopes",
    "scopes",
    required=True,
    help=f"Comma- or space-separated scopes among: {', '.join(SCOPES)}.",
)
@click.option(
    "--owner",
    default=None,
    help="Bind the key to this goal owner: it reads and writes only goals whose owner"
    " is OWNER, and creates goals for OWNER. Without it, the key acts on every goal.",
)
def create_command(name: str, scopes: str, owner: str | None) -> None:
    """Create a key named NAME and print it (it is shown only this once)."""
    wanted = [scope for scope in scopes.replace(",", " ").split() if scope]
    try:
        view, token = get_state().extension.create_api_key(name, scopes=wanted, owner=owner)
    except GamifyError as error:
        raise _failure(error) from error
    bound = f", bound to the owner {view.owner!r}" if view.owner is not None else ""
    click.echo(f"Created the API key {view.name!r} with scopes {', '.join(view.scopes)}{bound}.")
    click.echo("Store it now; it cannot be shown again:")
    click.echo(token)


@keys_group.command("list")
def list_command() -> None:
    """List keys: name, prefix, scopes, owner, status and last use."""
    keys = get_state().extension.api_keys()
    if not keys:
        click.echo("No API keys; create one with 'flask gamify keys create NAME --scopes ...'.")
    for key in keys:
        status = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        owner = f"owner {key.owner}" if key.owner is not None else "any owner"
        click.echo(f"{key.name}\t{key.prefix}\t{' '.join(key.scopes)}\t{owner}\t{status}\t{used}")


@keys_group.command("revoke")
@click.argument("name_or_prefix")
def revoke_command(name_or_prefix: str) -> None:
    """Revoke the key with NAME_OR_PREFIX; requests with it then get 401."""
    state = get_state()
    try:
        view = state.extension.revoke_api_key(name_or_prefix)
    except GamifyError as error:
        raise _failure(error) from error
    seconds = state.api_key_cache_seconds
    click.echo(
        f"Revoked the API key {view.name!r} ({view.prefix})"
        + (
            f"; the app's processes refuse it within {seconds:g} s (GAMIFY_API_KEY_CACHE)."
            if seconds
            else "."
        )
    )
