"""The Goals view of the dashboard: list, editor, go-live, impact of edits, versions."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from typing import Any

import pytest
from admin_support import ADMIN, csrf_token, login
from flask import Flask
from flask.testing import FlaskClient
from test_badges import png

from flask_gamify import Gamify
from flask_gamify.models import Goal

GOALS = ADMIN + "/gamify_goals"
LOGIN = {"type": "count", "event": "login", "target": 2}
LOGIN_JSON = '{"type": "count", "event": "login", "target": 2}'


def gamify_of(app: Flask) -> Gamify:
    return app.extensions["gamify"].extension  # type: ignore[no-any-return]


def goal_id(app: Flask, key: str) -> int:
    with app.extensions["gamify"].transaction() as session:
        return session.query(Goal.id).filter(Goal.key == key).scalar()  # type: ignore[no-any-return]


def define(app: Flask, key: str, owner: str | None = None, **options: Any) -> int:
    gamify_of(app).define_goal(key, criteria=LOGIN, owner=owner, **options)
    return goal_id(app, key)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def form_data(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client, GOALS + "/new/"),
        "key": "reader",
        "name": "Avid reader",
        "description": "",
        "criteria": LOGIN_JSON,
        "points": "10",
        "entity_type": "user",
        "owner": "",
        "icon": "",
    }
    data.update(fields)
    return data


def create(client: FlaskClient, **fields: Any) -> Any:
    return client.post(
        GOALS + "/new/", data=form_data(client, **fields), content_type="multipart/form-data"
    )


def field_error(html: str, field: str) -> str:
    """The error text Flask-Admin shows under ``field`` ("" when none)."""
    match = re.search(
        rf'id="{field}"[^>]*>.*?<div class="invalid-feedback">(.*?)</div>', html, re.S
    )
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def listed(client: FlaskClient, query: str = "") -> set[str]:
    """The keys of the goals the list shows."""
    html = page(client, f"{GOALS}/?{query}")
    return set(re.findall(r'<td class="col-key">\s*([\w.-]+)', html))


# -- the list ---------------------------------------------------------------------------


def test_an_empty_list_says_what_to_do(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert "No goals yet. Create one" in page(admin_client, GOALS + "/")


def test_the_list_shows_status_awards_and_completion(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    gamify = gamify_of(admin_app)
    define(admin_app, "two-logins", owner="alice", points=5, icon="star")
    define(admin_app, "later", status="draft")
    for entity in ("ann", "ann", "bob", "cid"):
        gamify.track("login", entity)
    login(admin_client, "staff")
    html = page(admin_client, GOALS + "/")
    row = html.split("two-logins", 1)[1].split("</tr>", 1)[0]
    assert "badge-success" in row and ">active<" in row
    assert "/icons/star.svg" in row
    cells = re.findall(r'<span class="gamify-number"[^>]*>([^<]*)</span>', row)
    assert cells == ["5", "1", "33%"], "points, awards, 1 of 3 entities completed"
    draft_row = html.split(">later<", 1)[1].split("</tr>", 1)[0]
    assert ">draft<" in draft_row


def test_search_and_filters(admin_app: Flask, admin_client: FlaskClient) -> None:
    define(admin_app, "reader", owner="alice", description="Reads articles")
    define(admin_app, "talker", owner="bob", hidden=True)
    define(admin_app, "teamwork", entity_type="team", status="draft")
    archived = define(admin_app, "old")
    gamify_of(admin_app).archive_goal("old")
    login(admin_client, "staff")

    def keys(query: str) -> set[str]:
        return listed(admin_client, query)

    assert keys("") == {"reader", "talker", "teamwork"}, "archived goals only with a filter"
    assert keys("search=articles") == {"reader"}
    assert keys("flt0_0=draft") == {"teamwork"}
    assert keys("flt0_1=bob") == {"talker"}
    assert keys("flt0_2=team") == {"teamwork"}
    assert keys("flt0_3=1") == {"talker"}
    assert keys("flt0_4=1") == {"old"}
    assert "No goal matches" in page(admin_client, f"{GOALS}/?search=nothing-like-it")
    login(admin_client, "bob")
    assert listed(admin_client) == {"talker"}
    assert listed(admin_client, "flt0_4=1") == set(), "another owner's archived goal"
    assert archived


def test_authors_see_and_reach_only_their_own_goals(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    define(admin_app, "alices", owner="alice")
    bobs = define(admin_app, "bobs", owner="bob")
    login(admin_client, "alice")
    listing = page(admin_client, GOALS + "/")
    assert "alices" in listing and "bobs" not in listing
    for url in (f"{GOALS}/details/?id={bobs}", f"{GOALS}/edit/?id={bobs}"):
        assert admin_client.get(url).status_code == 302, url  # "record does not exist"
    assert admin_client.get(f"{GOALS}/versions/?id={bobs}").status_code == 302
    for odd in ("x", "99999999999999999999", "-1"):
        assert admin_client.get(f"{GOALS}/details/?id={odd}").status_code == 302, odd
        assert admin_client.get(f"{GOALS}/backfill-status/?id={odd}").status_code == 404, odd
    token = csrf_token(admin_client, GOALS + "/")
    response = admin_client.post(f"{GOALS}/archive/", data={"id": bobs, "csrf_token": token})
    assert response.status_code == 302
    assert not gamify_of(admin_app).goal("bobs").archived
    answer = admin_client.post(
        f"{GOALS}/activate/?id={bobs}", json={}, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 404
    assert admin_client.get(f"{GOALS}/backfill-status/?id={bobs}").status_code == 404
    edit = admin_client.post(
        f"{GOALS}/edit/?id={bobs}",
        data=form_data(admin_client, key="bobs", name="Mine now"),
        content_type="multipart/form-data",
    )
    assert edit.status_code == 302
    assert gamify_of(admin_app).goal("bobs").name == "bobs"


def test_authors_own_what_they_create(admin_app: Flask, admin_client: FlaskClient) -> None:
    login(admin_client, "alice")
    form = page(admin_client, GOALS + "/new/")
    assert re.search(r'id="owner"[^>]*readonly', form)
    response = create(admin_client, key="mine", owner="bob")
    assert response.status_code == 302
    goal = gamify_of(admin_app).goal("mine")
    assert goal.owner == "alice"
    assert gamify_of(admin_app).goal_versions("mine")[0].changed_by == "alice"


def test_superusers_set_any_owner(admin_app: Flask, admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert create(admin_client, key="theirs", owner="bob").status_code == 302
    assert gamify_of(admin_app).goal("theirs").owner == "bob"


# -- create and edit --------------------------------------------------------------------


def test_create_saves_a_draft_through_the_api(admin_app: Flask, admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    response = create(admin_client, description="Two logins", icon="trophy", points="3")
    assert response.status_code == 302
    assert "/details/" in response.headers["Location"]
    goal = gamify_of(admin_app).goal("reader")
    assert (goal.status, goal.points, goal.icon, goal.name) == ("draft", 3, "trophy", "Avid reader")
    assert goal.criteria == LOGIN
    [version] = gamify_of(admin_app).goal_versions("reader")
    assert version.changed_by == "staff"
    details = page(admin_client, response.headers["Location"])
    assert "Make active" in details and ">draft<" in details


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"points": "-5"}, "points", "0 or more"),
        ({"points": "many"}, "points", "Not a valid integer"),
        ({"criteria": '{"type": "count"}'}, "criteria", "criteria"),
        ({"criteria": "{not json"}, "criteria", "The criteria are not valid JSON"),
        ({"key": "bad key!"}, "key", "Must start with a letter"),
        ({"icon": "javascript:alert(1)"}, "icon", "built-in icon"),
        ({"max_awards": "3"}, "max_awards", "Only repeatable goals"),
        ({"starts_at": "2030-01-02T00:00", "ends_at": "2030-01-01T00:00"}, "ends_at", "later"),
    ],
)
def test_bad_input_is_shown_at_its_field(
    admin_client: FlaskClient, fields: dict[str, str], field: str, message: str
) -> None:
    login(admin_client, "staff")
    response = create(admin_client, **fields)
    assert response.status_code == 200
    error = field_error(response.get_data(as_text=True), field)
    assert message in error, error


def test_a_duplicate_or_archived_key_is_refused_at_the_key(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    define(admin_app, "reader", name="Original")
    define(admin_app, "gone")
    gamify_of(admin_app).archive_goal("gone")
    login(admin_client, "staff")
    html = create(admin_client, key="reader").get_data(as_text=True)
    assert "exists already" in field_error(html, "key")
    assert gamify_of(admin_app).goal("reader").name == "Original", "no upsert over it"
    html = create(admin_client, key="gone").get_data(as_text=True)
    assert "archived" in field_error(html, "key")


def test_editing_an_archived_goal_says_to_restore_it(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    gone = define(admin_app, "gone")
    gamify_of(admin_app).archive_goal("gone")
    login(admin_client, "staff")
    response = admin_client.post(
        f"{GOALS}/edit/?id={gone}",
        data=form_data(admin_client, key="gone"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "restore it first" in field_error(response.get_data(as_text=True), "key")


def test_edit_keeps_the_key_and_the_status(admin_app: Flask, admin_client: FlaskClient) -> None:
    reader = define(admin_app, "reader", status="draft")
    login(admin_client, "staff")
    form = page(admin_client, f"{GOALS}/edit/?id={reader}")
    assert re.search(r'id="key"[^>]*readonly', form)
    response = admin_client.post(
        f"{GOALS}/edit/?id={reader}",
        data=form_data(admin_client, key="renamed", name="Reader", points="8"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    goal = gamify_of(admin_app).goal("reader")
    assert (goal.name, goal.points, goal.status) == ("Reader", 8, "draft")
    assert [goal.key for goal in gamify_of(admin_app).goals()] == ["reader"]


def test_duplicate_opens_a_prefilled_create_form(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    reader = define(admin_app, "reader", owner="alice", points=9)
    define(admin_app, "reader-copy")
    login(admin_client, "alice")
    html = page(admin_client, f"{GOALS}/new/?duplicate={reader}")
    assert 'value="reader-copy-2"' in html
    assert 'value="9"' in html
    assert "&#34;login&#34;" in html or "&quot;login&quot;" in html


# -- badge images ---------------------------------------------------------------------


def upload(client: FlaskClient, data: bytes, name: str = "badge.png") -> Any:
    return create(client, icon_upload=(io.BytesIO(data), name))


def test_an_uploaded_png_becomes_the_icon_and_is_served(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    login(admin_client, "staff")
    assert upload(admin_client, png(4, 4)).status_code == 302
    icon = gamify_of(admin_app).goal("reader").icon
    assert icon is not None and icon.startswith("/gamify/api/badge-images/")
    served = admin_client.get(icon)
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "badge.svg", "SVG images are refused"),
        (png(padding=256 * 1024), "big.png", "at most 262144"),
        (b"GIF? no: plain text pretending", "fake.png", "not a PNG"),
    ],
)
def test_refused_uploads_are_shown_at_the_upload_field(
    admin_app: Flask, admin_client: FlaskClient, data: bytes, name: str, message: str
) -> None:
    login(admin_client, "staff")
    response = upload(admin_client, data, name)
    assert response.status_code == 200
    assert message in field_error(response.get_data(as_text=True), "icon_upload")
    assert gamify_of(admin_app).goals() == []


# -- go-live ------------------------------------------------------------------------------


def activate(client: FlaskClient, goal: int, body: dict[str, Any], token: str | None) -> Any:
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(f"{GOALS}/activate/?id={goal}", json=body, headers=headers)


@pytest.mark.parametrize("count_history", [True, False])
@pytest.mark.parametrize("notify", [True, False])
def test_make_active_counts_history_and_notifies_as_asked(
    admin_app: Flask, admin_client: FlaskClient, count_history: bool, notify: bool
) -> None:
    gamify = gamify_of(admin_app)
    talker = define(admin_app, "talker", status="draft")
    for _ in range(2):
        gamify.track("login", "ann")
    login(admin_client, "staff")
    token = csrf_token(admin_client, f"{GOALS}/details/?id={talker}")
    answer = activate(
        admin_client, talker, {"count_history": count_history, "notify": notify}, token
    )
    assert answer.status_code == 200, answer.get_json()
    status = answer.get_json()
    assert status["goal"]["status"] == "active"
    assert gamify.goal("talker").status == "active"
    assert gamify.goal_versions("talker")[-1].changed_by == "staff"
    assert gamify.has_completed("ann", "talker") is count_history
    if count_history:
        assert status["backfill"]["status"] == "done"
        assert status["backfill"]["notify"] is notify
        assert status["awards"] == 1
    else:
        assert status["backfill"] is None and status["awards"] == 0
    notified = [n for n in gamify.notifications("ann") if n.kind == "goal-completed"]
    assert len(notified) == (1 if count_history and notify else 0)
    follow = admin_client.get(f"{GOALS}/backfill-status/?id={talker}").get_json()
    assert follow["awards"] == status["awards"]


def test_activate_without_the_csrf_token_is_refused(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    talker = define(admin_app, "talker", status="draft")
    login(admin_client, "staff")
    assert activate(admin_client, talker, {}, None).status_code == 400
    assert activate(admin_client, talker, {}, "forged").status_code == 400
    assert gamify_of(admin_app).goal("talker").status == "draft"
    archive = admin_client.post(f"{GOALS}/archive/", data={"id": talker})
    assert archive.status_code == 400
    assert not gamify_of(admin_app).goal("talker").archived


def test_activate_refuses_flags_that_are_not_booleans(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    talker = define(admin_app, "talker", status="draft")
    login(admin_client, "staff")
    token = csrf_token(admin_client, GOALS + "/")
    answer = activate(admin_client, talker, {"notify": "yes"}, token)
    assert answer.status_code == 400
    assert answer.get_json()["fields"] == {"notify": ["Must be a boolean."]}


def test_archive_and_restore(admin_app: Flask, admin_client: FlaskClient) -> None:
    reader = define(admin_app, "reader")
    login(admin_client, "staff")
    token = csrf_token(admin_client, GOALS + "/")
    response = admin_client.post(
        f"{GOALS}/archive/", data={"id": reader, "csrf_token": token, "url": f"{GOALS}/"}
    )
    assert response.status_code == 302
    assert gamify_of(admin_app).goal("reader").archived
    assert listed(admin_client) == set()
    assert listed(admin_client, "flt0_4=1") == {"reader"}
    assert "fa-undo" in page(admin_client, GOALS + "/?flt0_4=1")
    admin_client.post(f"{GOALS}/restore/", data={"id": reader, "csrf_token": token})
    assert not gamify_of(admin_app).goal("reader").archived
    assert [v.changed_by for v in gamify_of(admin_app).goal_versions("reader")][1:] == [
        "staff",
        "staff",
    ]


# -- editing a live goal ------------------------------------------------------------------


def impact(client: FlaskClient, goal: int, **fields: Any) -> Any:
    data = form_data(client, key="ignored", **fields)
    token = data["csrf_token"]
    return client.post(
        f"{GOALS}/impact/?id={goal}",
        data=data,
        headers={"X-CSRFToken": token},
        content_type="multipart/form-data",
    )


def test_impact_of_a_criteria_change_on_a_live_goal(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    gamify = gamify_of(admin_app)
    reader = define(admin_app, "reader", name="Avid reader", points=10)
    for entity, count in (("ann", 3), ("bob", 1), ("cid", 2)):
        for _ in range(count):
            gamify.track("login", entity)
    login(admin_client, "staff")
    answer = impact(
        admin_client, reader, criteria='{"type": "count", "event": "login", "target": 3}'
    )
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert result["rebuild"] is True
    assert (result["progressed"], result["completing"]) == (3, 1)
    assert (result["awards"], result["awarded"]) == (2, 2)
    assert result["changed"] == ["Criteria"]
    assert "Progress will be rebuilt" in result["messages"][0]
    assert "stay" in result["messages"][1]
    assert gamify.goal("reader").criteria == LOGIN, "nothing saved"


def test_impact_of_a_name_change_keeps_progress(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    reader = define(admin_app, "reader", name="Avid reader", points=10)
    login(admin_client, "staff")
    result = impact(admin_client, reader, name="Reader", points="20").get_json()
    assert result["rebuild"] is False
    assert result["changed"] == ["Name", "Points"]
    assert "Progress and awards stay" in result["messages"][0]
    assert "keep their points" in result["messages"][1]
    bad = impact(admin_client, reader, points="x")
    assert bad.status_code == 422 and "points" in bad.get_json()["fields"]


def test_impact_of_a_label_change_keeps_progress(
    admin_app: Flask, admin_client: FlaskClient
) -> None:
    reader = define(admin_app, "reader", name="Avid reader", points=10)
    login(admin_client, "staff")
    labelled = json.dumps({**LOGIN, "label": "Come back often"})
    result = impact(admin_client, reader, criteria=labelled).get_json()
    assert result["rebuild"] is False
    assert result["changed"] == ["Labels of the criteria"]
    assert result["messages"] == [
        "Progress and awards stay as they are: only labels of the criteria changed."
    ]


# -- versions -----------------------------------------------------------------------------


def test_version_history_shows_a_readable_diff(admin_app: Flask, admin_client: FlaskClient) -> None:
    gamify = gamify_of(admin_app)
    reader = define(admin_app, "reader", name="Reader", points=1)
    gamify.define_goal(
        "reader",
        criteria={**LOGIN, "target": 5},
        name="Avid reader",
        points=1,
        changed_by="alice",
    )
    login(admin_client, "staff")
    html = unescape(page(admin_client, f"{GOALS}/versions/?id={reader}"))
    assert html.index("Version 2") < html.index("Version 1"), "newest first"
    assert "by alice" in html
    assert "<del>Reader</del>" in html and "<ins>Avid reader</ins>" in html
    assert re.search(r'gamify-diff-removed">.*?"target": 2', html)
    assert re.search(r'gamify-diff-added">.*?"target": 5', html)
    assert re.search(r'gamify-diff-same">.*?"event": "login"', html)
