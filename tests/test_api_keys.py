"""API keys through the public Python API: create_api_key, api_keys, revoke_api_key."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from api_support import PREFIX, bearer
from conftest import wait_for
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import update

from flask_gamify import Gamify, GamifyError, InvalidInputError
from flask_gamify.api.keys import ApiKey, ApiKeyView, KeyCache
from flask_gamify.models import utcnow

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
    state = app.extensions["gamify"]
    with state.transaction() as session:
        session.execute(
            update(ApiKey).values(last_used_at=used.last_used_at - timedelta(minutes=2))
        )
    state.api_key_cache.clear()  # as when GAMIFY_API_KEY_CACHE is over: the key is read
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    assert gamify.api_keys()[0].last_used_at > used.last_used_at


def revoke_elsewhere(app: Flask, name: str) -> None:
    """Revoke a key in SQL only, as ``flask gamify keys revoke`` in another process does."""
    with app.extensions["gamify"].transaction() as session:
        session.execute(update(ApiKey).where(ApiKey.name == name).values(revoked_at=utcnow()))


def test_other_processes_refuse_a_revoked_key_within_the_cache_time(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    cache = app.extensions["gamify"].api_key_cache
    assert cache.ttl == 5  # GAMIFY_API_KEY_CACHE's default
    cache.ttl = 0.5
    _, secret = gamify.create_api_key("mobile", scopes=["goals:read"])
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    revoke_elsewhere(app, "mobile")
    revoked_at = time.monotonic()
    # Trusted for what is left of the cache time, no longer.
    assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    wait_for(
        lambda: client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 401,
        timeout=5,
        message="the revoked key is refused",
    )
    assert time.monotonic() - revoked_at < 0.5 + 1.5  # 0.5 s, and the time of a request
    response = client.get(f"{PREFIX}/goals", headers=bearer(secret))
    assert response.status_code == 401 and "revoked" in response.get_json()["error"]["message"]


def test_without_a_cache_every_request_checks_its_key(database_url: str) -> None:
    app = Flask("uncached_keys")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, GAMIFY_API_KEY_CACHE=0)
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.create_all()
        try:
            _, secret = gamify.create_api_key("mobile", scopes=["goals:read"])
            client = app.test_client()
            assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
            revoke_elsewhere(app, "mobile")
            assert client.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 401
        finally:
            gamify.drop_all()
            db.engine.dispose()


def test_the_key_cache_keeps_good_keys_only_and_a_bounded_number() -> None:
    good = ApiKeyView("a", "gmf_aaaaaaaa", ("goals:read",), utcnow(), None, None)
    cache = KeyCache(ttl=60, size=3)
    lookups: list[str] = []

    def lookup(token: str, found: ApiKeyView | None) -> ApiKeyView | None:
        return cache.authenticate(token, lambda: lookups.append(token) or found)

    assert lookup("t1", good) is good
    assert lookup("t1", None) is good  # cached: no lookup
    assert lookups == ["t1"]
    assert lookup("bad", None) is None and lookup("bad", None) is None
    assert lookups == ["t1", "bad", "bad"]  # unknown tokens are asked every time
    for token in ("t2", "t3", "t4"):
        lookup(token, good)
    assert len(cache._keys) == 3  # t1, the oldest, made room for t4
    lookup("t1", good)
    assert lookups[-1] == "t1"
    cache.clear()
    lookup("t4", good)
    assert lookups[-1] == "t4"
    # A lookup that began before a revocation in this process (clear) is not kept.
    cache.authenticate("t5", lambda: cache.clear() or good)
    lookup("t5", good)
    assert lookups[-1] == "t5"


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
