"""Demo feature 1, badges users define: the form, the preview, saving, editing, archiving."""

from __future__ import annotations

import re

import pytest
from demo_support import article_id, client_of, demo, page_text, user_id
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo_app.badges import describe
from demo_app.extensions import db, gamify
from demo_app.models import Article

__all__ = ["demo"]  # the fixture, imported for the tests below

#: A valid form: "Read 2 different articles in Python."
PYTHON_FAN = {
    "name": "Python fan",
    "event": "article.read",
    "kind": "different",
    "target": "2",
    "category": "python",
    "window": "",
}


def _read(app: Flask, client: FlaskClient, *slugs: str) -> None:
    for slug in slugs:
        page_text(client, f"/articles/{article_id(app, slug)}")


def _errors(page: str) -> dict[str, str]:
    """The field errors shown next to the form's fields, by field name."""
    return dict(re.findall(r'<p class="field-error" id="([a-z]+)-error">([^<]*)</p>', page))


def _custom_keys(app: Flask) -> list[str]:
    with app.app_context():
        return [
            goal.key
            for goal in gamify.goals(include_archived=True)
            if goal.key.startswith("custom.")
        ]


def _flash(client: FlaskClient) -> str:
    page = page_text(client, "/badges")
    return re.findall(r'<div class="flash [a-z]+">([^<]*)</div>', page)[-1]


def test_preview_shows_who_would_earn_it_and_saves_nothing(demo: Flask) -> None:
    carol, dave_like = client_of(demo, "carol"), client_of(demo, "alice")
    _read(demo, carol, "b", "c")  # the two Python articles
    _read(demo, dave_like, "b", "a")  # one Python article: half way
    bob = client_of(demo, "bob")
    response = bob.post("/badges", data={**PYTHON_FAN, "preview": "1"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = page.split('<section class="preview"')[1].split("</section>")[0]
    assert "Preview: Read 2 different articles in Python." in preview
    assert re.search(r"Would earn it now:</strong>\s*carol\s*<", preview)
    assert "(1 of 2 who made progress)" in preview
    assert re.search(r"<li>alice <span class=\"bar\".*</span> 50%</li>", preview)
    # The form is filled in as typed, and nothing was saved.
    assert 'value="Python fan"' in page
    assert '<option value="python" selected>' in page
    assert '<option value="different" selected>' in page
    assert _custom_keys(demo) == []
    # Nobody qualifies: said so.
    nobody = bob.post("/badges", data={**PYTHON_FAN, "category": "testing", "target": "1"})
    assert "Would earn it now:</strong>\n        nobody yet" in nobody.get_data(as_text=True)


def test_saving_gives_the_badge_to_those_who_qualify_already(demo: Flask) -> None:
    carol = client_of(demo, "carol")
    _read(demo, carol, "b", "c")
    carol.get("/notifications/new")  # the built-in badges' toasts: seen
    bob = client_of(demo, "bob")
    response = bob.post("/badges", data={**PYTHON_FAN, "save": "1"})
    assert response.status_code == 302
    assert _flash(bob) == "Badge &#39;Python fan&#39; saved: 1 user already earned it."
    toasts = [note["text"] for note in carol.get("/notifications/new").json["notifications"]]
    assert toasts == ["Badge earned: Python fan (+10 points)"]
    key = f"custom.{user_id(demo, 'bob')}.python-fan"
    with demo.app_context():
        goal = gamify.goal(key)
        assert goal.owner == str(user_id(demo, "bob"))
        assert goal.criteria == {
            "type": "distinct",
            "event": "article.read",
            "field": "article_id",
            "target": 2,
            "where": {"category": "python"},
        }
        assert gamify.has_completed(user_id(demo, "carol"), key)
    # The list: bob's badge first, marked his, with who earned it and his progress.
    page = page_text(bob, "/badges")
    first = page.split('<li class="badge-item')[1]
    assert "<strong>Python fan</strong>" in first
    assert '<span class="tag">yours</span>' in first
    assert "Read 2 different articles in Python." in first
    assert "earned by 1 user\n" in first
    assert "0/2" in first
    assert f'href="/badges/{key}/edit"' in first
    # Reading the Python articles earns it live, too.
    _read(demo, bob, "b", "c")
    toasts = [note["text"] for note in bob.get("/notifications/new").json["notifications"]]
    assert "Badge earned: Python fan (+10 points)" in toasts


def test_a_windowed_badge_counts_events_close_together(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    form = {
        "name": "Commenter",
        "event": "comment.posted",
        "kind": "times",
        "target": "3",
        "category": "",
        "window": "7d",
    }
    assert bob.post("/badges", data={**form, "save": "1"}).status_code == 302
    with demo.app_context():
        goal = gamify.goal(f"custom.{user_id(demo, 'bob')}.commenter")
    assert goal.criteria == {
        "type": "count",
        "event": "comment.posted",
        "target": 3,
        "window": "7d",
    }
    assert goal.description == "Comment on articles 3 times within a week."
    carol = client_of(demo, "carol")
    url = f"/articles/{article_id(demo, 'd')}/comments"
    assert carol.post(url, data={"body": ""}).status_code == 400  # no comment, no event
    for number in range(2):
        assert carol.post(url, data={"body": f"Comment {number}"}).status_code == 302
    assert "2/3" in page_text(carol, "/badges")
    assert carol.post(url, data={"body": "And a third"}).status_code == 302
    toasts = [note["text"] for note in carol.get("/notifications/new").json["notifications"]]
    assert "Badge earned: Commenter (+10 points)" in toasts


def test_a_streak_badge_and_the_descriptions() -> None:
    assert describe({"type": "streak", "event": "login", "target": 3}) == "Log in 3 days in a row."
    assert (
        describe(
            {"type": "streak", "event": "article.read", "target": 2, "where": {"category": "flask"}}
        )
        == "Read an article in Flask 2 days in a row."
    )
    assert describe({"type": "count", "event": "login", "target": 1}) == "Log in once."
    assert (
        describe({"type": "count", "event": "article.read", "target": 5, "window": "24h"})
        == "Read articles 5 times within a day."
    )
    assert (
        describe(
            {"type": "distinct", "event": "comment.posted", "target": 1, "field": "article_id"}
        )
        == "Comment on 1 article."
    )


@pytest.mark.parametrize(
    ("name", "key_end"),
    [("Лучший читатель", "badge"), ("Café crème", "cafe-creme"), ("読書家 2", "2")],
)
def test_any_name_in_any_language(demo: Flask, name: str, key_end: str) -> None:
    bob = client_of(demo, "bob")
    form = {**PYTHON_FAN, "name": f"  {name}  ", "save": "1"}
    assert bob.post("/badges", data=form).status_code == 302
    key = f"custom.{user_id(demo, 'bob')}.{key_end}"
    assert _custom_keys(demo) == [key]
    with demo.app_context():
        assert gamify.goal(key).name == name
    assert f"<strong>{name}</strong>" in page_text(bob, "/badges")
    # The same name twice is refused; another name that gives the same key is not.
    again = bob.post("/badges", data=form)
    assert again.status_code == 400
    assert "You have a badge named" in _errors(again.get_data(as_text=True))["name"]
    assert bob.post("/badges", data={**form, "name": f"{name}!"}).status_code == 302
    assert sorted(_custom_keys(demo)) == [key, f"{key}-2"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the badge a name, such as 'Python fan'."),
        ("   ", "Give the badge a name, such as 'Python fan'."),
        ("x" * 101, "The name has 101 characters; shorten it to 100 at most."),
        ("bad\x00name", "The name may not contain control characters; retype it."),
    ],
)
def test_bad_names_are_refused_next_to_the_field(demo: Flask, name: str, message: str) -> None:
    response = client_of(demo, "bob").post(
        "/badges", data={**PYTHON_FAN, "name": name, "save": "1"}
    )
    assert response.status_code == 400
    assert _errors(response.get_data(as_text=True))["name"] == message.replace("'", "&#39;")
    assert _custom_keys(demo) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"target": "abc"}, "target", "Type a whole number from 1 to 1000."),
        ({"target": ""}, "target", "Type a whole number from 1 to 1000."),
        ({"target": "1e3"}, "target", "Type a whole number from 1 to 1000."),
        ({"target": "2.5"}, "target", "Type a whole number from 1 to 1000."),
        ({"target": "0"}, "target", "Type a number from 1 to 1000 (you typed 0)."),
        ({"target": "-3"}, "target", "Type a number from 1 to 1000 (you typed -3)."),
        ({"target": "1001"}, "target", "Type a number from 1 to 1000 (you typed 1001)."),
        ({"target": "9" * 5000}, "target", "Type a number from 1 to 1000; that one is far too"),
        ({"target": "-" + "9" * 20}, "target", "Type a number from 1 to 1000; that one is far"),
        (
            {"kind": "different", "target": "3", "category": "python"},
            "target",
            "There are 2 articles in Python; type a number from 1 to 2.",
        ),
        ({"event": "article.deleted"}, "event", "Pick one of the listed actions."),
        ({"kind": "sum"}, "kind", "Pick how to count"),
        ({"category": "cooking"}, "category", "Pick one of the listed categories"),
        ({"event": "login", "kind": "times"}, "category", "Logging in has no category"),
        (
            {"event": "login", "category": "", "kind": "different"},
            "kind",
            "Logins are not about articles",
        ),
        (
            {"kind": "different", "window": "7d"},
            "window",
            "A time limit works with &#39;times&#39; only",
        ),
        ({"kind": "times", "window": "1y"}, "window", "Pick one of the listed time limits."),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_kept(
    demo: Flask, fields: dict[str, str], field: str, message: str
) -> None:
    for button in ("preview", "save"):
        form = {**PYTHON_FAN, "kind": "times", **fields, button: "1"}
        response = client_of(demo, "bob").post("/badges", data=form)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert _errors(page)[field].startswith(message)
        assert f'aria-describedby="{field}-error"' in page
        assert 'value="Python fan"' in page  # what was typed stays
        if "target" in fields and len(fields["target"]) < 10:
            assert f'value="{fields["target"]}"' in page
        assert '<section class="preview"' not in page
    assert _custom_keys(demo) == []


def test_signing_in_comes_first(demo: Flask) -> None:
    anonymous = demo.test_client()
    assert "to create a badge" in page_text(anonymous, "/badges")
    response = anonymous.post("/badges", data={**PYTHON_FAN, "save": "1"})
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert _custom_keys(demo) == []


def _badge_of_bob(demo: Flask) -> tuple[FlaskClient, str]:
    bob = client_of(demo, "bob")
    assert bob.post("/badges", data={**PYTHON_FAN, "save": "1"}).status_code == 302
    return bob, f"custom.{user_id(demo, 'bob')}.python-fan"


def test_only_the_owner_edits_or_archives(demo: Flask) -> None:
    _, key = _badge_of_bob(demo)
    carol = client_of(demo, "carol")
    page = page_text(carol, "/badges")
    assert "Python fan" in page
    assert "/edit" not in page
    assert "/archive" not in page
    for response in (
        carol.get(f"/badges/{key}/edit"),
        carol.post(f"/badges/{key}/edit", data={**PYTHON_FAN, "target": "1", "save": "1"}),
        carol.post(f"/badges/{key}/archive"),
    ):
        assert response.status_code == 403
        text = response.get_data(as_text=True)
        assert "Not your badge" in text
        assert "was created by bob: only they can edit or archive it." in text
    with demo.app_context():
        goal = gamify.goal(key)
    assert goal.criteria["target"] == 2
    assert not goal.archived
    # Alice owns the premium rule, but it is not a form-made badge.
    alice = client_of(demo, "alice")
    refused = alice.get("/badges/premium-unlock/edit")
    assert refused.status_code == 403
    assert "change it in the dashboard" in refused.get_data(as_text=True)
    assert alice.post("/badges/explorer/archive").status_code == 403
    assert alice.get("/badges/no-such-badge/edit").status_code == 404
    assert alice.get("/badges/onboarding/edit").status_code == 404  # a to-do list
    assert demo.test_client().post(f"/badges/{key}/archive").status_code == 302  # to log in


def test_editing_counts_the_history_again(demo: Flask) -> None:
    bob, key = _badge_of_bob(demo)
    carol = client_of(demo, "carol")
    _read(demo, carol, "b")  # one Python article: not enough for 2
    carol.get("/notifications/new")
    form = page_text(bob, f"/badges/{key}/edit")
    assert "Edit “Python fan”" in form
    assert 'value="2"' in form
    assert '<option value="python" selected>' in form
    bad = bob.post(f"/badges/{key}/edit", data={**PYTHON_FAN, "target": "0", "save": "1"})
    assert bad.status_code == 400
    assert "type a number from 1 to 2" in _errors(bad.get_data(as_text=True))["target"]
    preview = bob.post(f"/badges/{key}/edit", data={**PYTHON_FAN, "target": "1", "preview": "1"})
    assert preview.status_code == 200
    assert re.search(r"Would earn it now:</strong>\s*carol", preview.get_data(as_text=True))
    with demo.app_context():
        assert gamify.goal(key).criteria["target"] == 2  # a preview saves nothing
    saved = bob.post(
        f"/badges/{key}/edit", data={**PYTHON_FAN, "name": "Pythonista", "target": "1", "save": "1"}
    )
    assert saved.status_code == 302
    assert _flash(bob) == "Badge &#39;Pythonista&#39; updated: 1 user already earned it."
    toasts = [note["text"] for note in carol.get("/notifications/new").json["notifications"]]
    assert toasts == ["Badge earned: Pythonista (+10 points)"]
    with demo.app_context():
        assert gamify.goal(key).description == "Read 1 article in Python."


def test_archiving_keeps_the_awards(demo: Flask) -> None:
    carol = client_of(demo, "carol")
    _read(demo, carol, "b", "c")
    bob, key = _badge_of_bob(demo)
    assert bob.post(f"/badges/{key}/archive").status_code == 302
    assert _flash(bob) == (
        "Badge &#39;Python fan&#39; archived: nobody can earn it any more; those who earned"
        " it keep it."
    )
    assert "Python fan" not in page_text(bob, "/badges")
    assert bob.get(f"/badges/{key}/edit").status_code == 404
    with demo.app_context():
        assert gamify.goal(key).archived
        assert gamify.has_completed(user_id(demo, "carol"), key)
    # A new badge of the same name gets a key of its own: an archived key stays archived.
    assert bob.post("/badges", data={**PYTHON_FAN, "save": "1"}).status_code == 302
    assert sorted(_custom_keys(demo)) == [key, f"{key}-2"]


def test_read_and_comment_events_carry_the_category(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    b = article_id(demo, "b")
    page_text(bob, f"/articles/{b}")
    assert bob.post(f"/articles/{b}/comments", data={"body": "Nice"}).status_code == 302
    assert bob.get("/articles/999").status_code == 404  # not tracked: no category to find
    with demo.app_context():
        categories = dict(db.session.execute(select(Article.slug, Article.category)).all())
        preview = gamify.preview(
            {
                "type": "count",
                "event": "comment.posted",
                "target": 1,
                "where": {"category": "python"},
            }
        )
    assert categories == {
        "welcome": "community",
        "a": "flask",
        "b": "python",
        "c": "python",
        "d": "testing",
    }
    assert preview.completed == 1
    assert [item.entity for item in preview.sample] == [str(user_id(demo, "bob"))]
