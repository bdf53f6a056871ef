"""API keys through the public Python API: create_api_key, api_keys, revoke_api_key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_support import PREFIX, bearer
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from flask_gamify import Gamify, GamifyError, InvalidInputError
from flask_gamify.api.keys import ApiKey

pytestmark = pytest.mark.usefixtures("app")  # an app context for gamify


def test_a_created_key_authenticates_until_it_is_revoked(
    gamify: Gamify, client: FlaskClient
) -> None:
    view, secret = gamify.create_api_key("backend", scopes=["goals:read", "events:write"])
    assert secret.startswith(view.prefix + "_")
    assert view.name == "backend"
    assert view.scopes == ("events:write", "goals:read")  # in SCOPES order
    assert view.owner is None and not view.revoked
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200

    revoked = gamify.revoke_api_key("backend")
    assert revoked.revoked and revoked.prefix == view.prefix
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 401
    assert gamify.revoke_api_key(view.prefix).revoked_at == revoked.revoked_at  # idempotent


def test_a_key_records_when_it_was_last_used_to_the_minute(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    """Each use reads the key; it is written only when the recorded use is a minute old."""
    view, secret = gamify.create_api_key("reader", scopes=["goals:read"])
    assert view.last_used_at is None
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    (used,) = gamify.api_keys()
    assert used.last_used_at is not None
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    assert gamify.api_keys()[0].last_used_at == used.last_used_at  # within the minute
    with app.extensions["gamify"].transaction() as session:
        session.execute(
            update(ApiKey).values(last_used_at=used.last_used_at - timedelta(minutes=2))
        )
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    assert gamify.api_keys()[0].last_used_at > used.last_used_at


def test_api_keys_lists_every_key_oldest_first_without_secrets(gamify: Gamify) -> None:
    assert gamify.api_keys() == []
    gamify.create_api_key("first", scopes="goals:read, progress:read")
    gamify.create_api_key("second", scopes=["goals:write"], owner="alice")
    gamify.revoke_api_key("first")
    keys = gamify.api_keys()
    assert [key.name for key in keys] == ["first", "second"]
    assert keys[0].scopes == ("goals:read", "progress:read") and keys[0].revoked
    assert keys[1].owner == "alice" and not keys[1].revoked
    assert not hasattr(keys[1], "key_hash")


@pytest.mark.parametrize(
    ("name", "scopes", "owner", "field", "message"),
    [
        ("", ["goals:read"], None, "name", "1 to 100 characters"),
        ("   ", ["goals:read"], None, "name", "1 to 100 characters"),
        ("x" * 101, ["goals:read"], None, "name", "1 to 100 characters"),
        ("ok", ["admin"], None, "scopes", "Unknown scope(s) admin"),
        ("ok", [], None, "scopes", "(none given)"),
        ("ok", ["goals:read"], " ", "owner", "owner must be 1 to 255"),
        ("ok", ["goals:read"], "a\x00b", "owner", "NUL"),
    ],
)
def test_bad_input_names_the_field(
    gamify: Gamify, name: str, scopes: list[str], owner: str | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        gamify.create_api_key(name, scopes=scopes, owner=owner)
    assert list(caught.value.errors) == [field]
    assert message in caught.value.errors[field][0]
    assert gamify.api_keys() == []


def test_a_taken_name_is_refused_at_the_name(gamify: Gamify) -> None:
    gamify.create_api_key("ci", scopes=["goals:read"])
    with pytest.raises(InvalidInputError) as caught:
        gamify.create_api_key("ci", scopes=["goals:write"])
    message = "A key named 'ci' exists already; choose another name."
    assert caught.value.errors == {"name": [message]}
    assert len(gamify.api_keys()) == 1


def test_revoking_an_unknown_key_says_how_to_find_one(gamify: Gamify) -> None:
    with pytest.raises(GamifyError, match="No API key is named 'nope'"):
        gamify.revoke_api_key("nope")


def test_the_cli_prints_field_errors_without_paths(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["gamify", "keys", "create", "x", "--scopes", "admin"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: Unknown scope(s) admin;"), result.output
