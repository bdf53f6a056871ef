"""The Awards page with the test client: access, author scoping, CSRF, forms, bulk, audit."""

from __future__ import annotations

import io
from typing import Any

import pytest
from admin_support import ADMIN, csrf_token, login
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from flask_gamify import Gamify

AWARDS = f"{ADMIN}/gamify_awards"
ONCE = {"type": "count", "event": "login", "target": 1}


def get_awards_url(app: Flask) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for("gamify_awards.index")


@pytest.fixture
def goals(admin_app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("alices", name="Alice's badge", criteria=ONCE, owner="alice", points=7)
    gamify.define_goal("bobs", name="Bob's badge", criteria=ONCE, owner="bob")
    gamify.define_goal(
        "kudos", name="Kudos", criteria=ONCE, owner="alice", repeatable=True, max_awards=3
    )


def post(client: FlaskClient, path: str, data: dict[str, Any], **options: Any) -> Any:
    return client.post(f"{AWARDS}{path}", data=data, **options)


def with_token(client: FlaskClient, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "csrf_token": csrf_token(client, f"{AWARDS}/")}


def test_the_page_lives_at_its_endpoint(admin_app: Flask) -> None:
    assert get_awards_url(admin_app) == f"{AWARDS}/"


@pytest.mark.parametrize("user", [None, "visitor"])
@pytest.mark.parametrize("path", ["/", "/bulk/", "/audit/"])
def test_refused_to_outsiders(admin_client: FlaskClient, user: str | None, path: str) -> None:
    login(admin_client, user)
    assert admin_client.get(f"{AWARDS}{path}").status_code == 403


@pytest.mark.parametrize("user", [None, "visitor"])
def test_posts_refused_to_outsiders(
    admin_client: FlaskClient, gamify: Gamify, goals: None, user: str | None
) -> None:
    login(admin_client, user)
    for path in ("/award/", "/revoke/", "/bulk/"):
        response = post(admin_client, path, {"goal": "alices", "entity": "x", "reason": "r"})
        assert response.status_code == 403
    assert gamify.awards("x") == []


def test_empty_states(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    html = admin_client.get(f"{AWARDS}/").get_data(as_text=True)
    assert "There are no goals yet" in html
    assert "No award was given or revoked by hand yet." in html
    assert "No award was given or revoked by hand." in admin_client.get(
        f"{AWARDS}/audit/"
    ).get_data(as_text=True)
    assert "Paste entity ids or upload a CSV file" in admin_client.get(f"{AWARDS}/bulk/").get_data(
        as_text=True
    )


def test_goal_and_entity_empty_states(
    admin_client: FlaskClient, gamify: Gamify, goals: None
) -> None:
    login(admin_client, "staff")
    html = admin_client.get(f"{AWARDS}/").get_data(as_text=True)
    assert "Choose a goal to see who earned it" in html
    html = admin_client.get(f"{AWARDS}/?goal=alices").get_data(as_text=True)
    assert "Nobody has earned Alice&#39;s badge yet." in html
    html = admin_client.get(f"{AWARDS}/?entity=ann").get_data(as_text=True)
    assert "User ann holds no award" in html


def test_earners_of_a_goal(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    gamify.track("login", "ann")
    gamify.award("bea", "kudos", reason="helpful")
    login(admin_client, "staff")
    html = admin_client.get(f"{AWARDS}/?goal=alices").get_data(as_text=True)
    assert 'data-entity="ann"' in html
    assert "/gamify_progress/?entity=ann&amp;entity_type=user" in html
    assert ">earned<" in html
    html = admin_client.get(f"{AWARDS}/?goal=kudos").get_data(as_text=True)
    assert 'data-entity="bea"' in html and ">by hand<" in html
    # An entity's awards across goals.
    html = admin_client.get(f"{AWARDS}/?entity=ann").get_data(as_text=True)
    assert "Alice&#39;s badge" in html and "Bob&#39;s badge" in html


def test_earners_are_paginated(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    for number in range(55):
        gamify.track("login", f"user-{number:02d}")
    login(admin_client, "staff")
    first = admin_client.get(f"{AWARDS}/?goal=alices").get_data(as_text=True)
    second = admin_client.get(f"{AWARDS}/?goal=alices&page=2").get_data(as_text=True)
    assert first.count('<tr data-entity="user-') == 50
    assert second.count('<tr data-entity="user-') == 5
    assert "Page 2 of 2" in second


def test_authors_see_only_their_goals(
    admin_client: FlaskClient, gamify: Gamify, goals: None
) -> None:
    gamify.award("ann", "alices", reason="alice's choice")
    gamify.award("ann", "bobs", reason="bob's choice")
    login(admin_client, "alice")
    html = admin_client.get(f"{AWARDS}/").get_data(as_text=True)
    assert 'value="alices"' in html and 'value="bobs"' not in html
    assert admin_client.get(f"{AWARDS}/?goal=bobs").status_code == 404
    assert admin_client.get(f"{AWARDS}/audit/?goal=bobs").status_code == 404
    html = admin_client.get(f"{AWARDS}/?entity=ann").get_data(as_text=True)
    assert "Alice&#39;s badge" in html and "Bob&#39;s badge" not in html
    audit = admin_client.get(f"{AWARDS}/audit/").get_data(as_text=True)
    assert "alice&#39;s choice" in audit and "bob&#39;s choice" not in audit


def test_authors_cannot_change_awards_of_other_goals(
    admin_client: FlaskClient, gamify: Gamify, goals: None
) -> None:
    gamify.track("login", "ann")
    login(admin_client, "alice")
    data = with_token(admin_client, {"goal": "bobs", "entity": "zed", "reason": "sneaky"})
    assert post(admin_client, "/award/", data).status_code == 404
    data = with_token(
        admin_client,
        {"goal": "bobs", "entity": "ann", "occurrence": "1", "reason": "sneaky"},
    )
    assert post(admin_client, "/revoke/", data).status_code == 404
    data = with_token(admin_client, {"goal": "bobs", "entities": "zed", "reason": "sneaky"})
    assert post(admin_client, "/bulk/", data).status_code == 404
    assert gamify.awards("zed") == []
    assert gamify.has_completed("ann", "bobs")
    assert gamify.award_changes() == []


def test_csrf_is_required(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    login(admin_client, "staff")
    for path in ("/award/", "/revoke/", "/bulk/"):
        response = post(admin_client, path, {"goal": "alices", "entity": "x", "reason": "r"})
        assert response.status_code == 400
        assert "security token" in response.get_data(as_text=True)
    assert gamify.awards("x") == []


def test_award_by_hand(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    login(admin_client, "alice")
    data = with_token(
        admin_client,
        {"goal": "alices", "entity": "ann", "entity_type": "user", "reason": "great talk"},
    )
    response = post(admin_client, "/award/", data, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Awarded “Alice&#39;s badge” to user ann (occurrence 1, 7 points)." in html
    assert gamify.has_completed("ann", "alices")
    [change] = gamify.award_changes()
    assert (change.reason, change.changed_by, change.action) == ("great talk", "alice", "awarded")


def test_award_validation_at_the_field(
    admin_client: FlaskClient, gamify: Gamify, goals: None
) -> None:
    login(admin_client, "staff")
    response = post(admin_client, "/award/", with_token(admin_client, {"entity": "ann"}))
    assert response.status_code == 400
    assert 'data-field="goal">Pick the goal to award.' in response.get_data(as_text=True)

    response = post(
        admin_client,
        "/award/",
        with_token(admin_client, {"goal": "alices", "entity": "", "reason": ""}),
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-field="reason">Say why the award is given' in html
    assert 'data-field="entity">Must be a non-empty string naming the entity.' in html

    gamify.award("ann", "alices", reason="first")
    response = post(
        admin_client,
        "/award/",
        with_token(admin_client, {"goal": "alices", "entity": "ann", "reason": "again"}),
    )
    assert response.status_code == 409
    assert 'data-field="entity">user &#39;ann&#39; already holds it' in response.get_data(
        as_text=True
    )
    # The form keeps what was typed.
    assert ">again</textarea>" in response.get_data(as_text=True)


def test_revoke_with_a_reason(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    gamify.track("login", "ann")
    login(admin_client, "alice")
    data = with_token(
        admin_client,
        {"goal": "alices", "entity": "ann", "entity_type": "user", "occurrence": "1"},
    )
    response = post(admin_client, "/revoke/", {**data, "reason": "  "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-open="1"' in html  # the dialog opens again, with the error
    assert 'data-field="reason">Say why' in html
    assert gamify.has_completed("ann", "alices")

    response = post(admin_client, "/revoke/", {**data, "reason": "spam"}, follow_redirects=True)
    assert "Revoked “Alice&#39;s badge” (occurrence 1) from user ann." in response.get_data(
        as_text=True
    )
    assert not gamify.has_completed("ann", "alices")
    [change] = gamify.award_changes()
    assert (change.action, change.reason, change.changed_by) == ("revoked", "spam", "alice")

    # Revoking it again: a message, not a 500.
    response = post(admin_client, "/revoke/", {**data, "reason": "twice"}, follow_redirects=True)
    assert response.status_code == 200
    assert "does not hold occurrence 1" in response.get_data(as_text=True)


def test_revoke_with_reset_progress(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    gamify.track("login", "ann")
    login(admin_client, "staff")
    data = with_token(
        admin_client,
        {
            "goal": "alices",
            "entity": "ann",
            "occurrence": "1",
            "reason": "spam",
            "reset_progress": "1",
        },
    )
    assert post(admin_client, "/revoke/", data).status_code == 302
    assert [c.action for c in gamify.award_changes()] == ["progress-reset", "revoked"]
    gamify.track("login", "ann")
    assert gamify.has_completed("ann", "alices")


def test_revoke_refuses_a_bad_occurrence(
    admin_client: FlaskClient, gamify: Gamify, goals: None
) -> None:
    gamify.track("login", "ann")
    login(admin_client, "staff")
    data = with_token(
        admin_client,
        {"goal": "alices", "entity": "ann", "occurrence": "first", "reason": "x"},
    )
    response = post(admin_client, "/revoke/", data)
    assert response.status_code == 400
    assert 'data-field="occurrence">Must be a whole number' in response.get_data(as_text=True)


def test_bulk_award_report(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    gamify.define_goal("teams", criteria=ONCE, entity_type="team", owner="alice")
    gamify.track("login", "ann")
    login(admin_client, "alice")
    data = with_token(
        admin_client,
        {
            "goal": "alices",
            "entity_type": "user",
            "reason": "launch party",
            "entities": "ann\nbea, cy\n\nbea\n" + "x" * 300,
        },
    )
    response = post(admin_client, "/bulk/", data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2 awarded" in html and "1 already had it" in html and "1 refused" in html
    assert "1 listed twice" in html
    assert "Must be at most 255 characters long" in html
    assert {a.entity for a in gamify.awards("bea") + gamify.awards("cy")} == {"bea", "cy"}
    assert all(c.reason == "launch party" for c in gamify.award_changes())


def test_bulk_award_from_a_csv_file(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    gamify.define_goal("team-badge", criteria=ONCE, entity_type="team")
    login(admin_client, "staff")
    data = with_token(admin_client, {"goal": "team-badge", "reason": "season winners"})
    data["file"] = (io.BytesIO(b"entity,entity_type\nreds,team\nblues,team\nann,user\n"), "w.csv")
    response = post(admin_client, "/bulk/", data, content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2 awarded" in html and "1 refused" in html
    assert "is for entities of type &#39;team&#39;" in html
    assert gamify.has_completed("reds", "team-badge", entity_type="team")


def test_bulk_award_validation(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    login(admin_client, "staff")
    response = post(admin_client, "/bulk/", with_token(admin_client, {"entities": ""}))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-field="goal">Pick the goal to award.' in html
    assert 'data-field="reason">Say why these awards are given' in html

    too_many = "\n".join(f"u{number}" for number in range(10_001))
    data = with_token(admin_client, {"goal": "alices", "reason": "r", "entities": too_many})
    response = post(admin_client, "/bulk/", data)
    assert response.status_code == 400
    assert "10001 entities listed; a bulk award takes at most 10000" in response.get_data(
        as_text=True
    )

    data = with_token(admin_client, {"goal": "alices", "reason": "r"})
    data["file"] = (io.BytesIO(b"a,b,c\n"), "w.csv")
    response = post(admin_client, "/bulk/", data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "has 3 columns" in response.get_data(as_text=True)

    data = with_token(admin_client, {"goal": "alices", "reason": "r"})
    data["file"] = (io.BytesIO(b"x" * (1024 * 1024 + 1)), "big.csv")
    # A body this large is a temporary file on the client's side too: close it.
    builder = EnvironBuilder(path=f"{AWARDS}/bulk/", method="POST", data=data)
    environ = builder.get_environ()
    try:
        response = admin_client.open(environ)
        assert response.status_code == 400
        assert "The file is larger than 1024 KiB" in response.get_data(as_text=True)
    finally:
        environ["wsgi.input"].close()
        builder.close()

    data = with_token(admin_client, {"goal": "alices", "reason": "r"})
    data["file"] = (io.BytesIO(b"\xff\xfe\x00"), "w.csv")
    response = post(admin_client, "/bulk/", data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "not UTF-8" in response.get_data(as_text=True)
    assert gamify.award_changes() == []


def test_audit_trail_pages(admin_client: FlaskClient, gamify: Gamify, goals: None) -> None:
    for number in range(55):
        gamify.award(f"u{number}", "alices", reason=f"reason {number}", changed_by="staff")
    gamify.revoke_award("u3", "alices", reason="changed my mind", changed_by="staff")
    login(admin_client, "staff")
    html = admin_client.get(f"{AWARDS}/audit/").get_data(as_text=True)
    assert html.count("data-change=") == 50
    assert html.index("changed my mind") < html.index("reason 54")
    assert "Older" in html
    older = html.split("before=", 1)[1].split('"', 1)[0]
    rest = admin_client.get(f"{AWARDS}/audit/?before={older}").get_data(as_text=True)
    assert rest.count("data-change=") == 6
    assert "reason 0<" in rest
    one = admin_client.get(f"{AWARDS}/audit/?entity=u3").get_data(as_text=True)
    assert one.count("data-change=") == 2
    # A nonsense page number is the first page, not an error.
    assert admin_client.get(f"{AWARDS}/audit/?before=abc").status_code == 200
    assert admin_client.get(f"{AWARDS}/?goal=alices&page=zz").status_code == 200


def test_an_unknown_goal_is_not_found(admin_client: FlaskClient, goals: None) -> None:
    login(admin_client, "staff")
    assert admin_client.get(f"{AWARDS}/?goal=nope").status_code == 404
