"""The demo's unlock rule: the locked page lists alice's current articles, read or not."""

from __future__ import annotations

from typing import Any

from demo_support import article_id, checklist_of, client_of, demo, page_text, toasts, user_id
from flask import Flask

from demo_app import init_database
from demo_app.extensions import gamify
from demo_app.unlock import PREMIUM_RULE

__all__ = ["demo"]  # the fixture, imported for the tests below

A, B, C = (
    "Article A: Flask in five minutes",
    "Article B: Application factories",
    "Article C: Extensions",
)
D = "Article D: Testing"


def _redefine_premium(app: Flask, **changes: Any) -> None:
    """Change the rule as alice does in the dashboard: the whole goal, saved by her."""
    with app.app_context():
        goal = gamify.goal(PREMIUM_RULE)
        gamify.define_goal(
            PREMIUM_RULE,
            criteria=changes.pop("criteria", goal.criteria),
            name=goal.name,
            description=changes.pop("description", goal.description),
            points=goal.points,
            owner=goal.owner,
            changed_by=goal.owner,
        )


def test_the_locked_page_lists_each_article_read_or_not(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    page = page_text(bob, "/premium/locked")
    assert "0 of 3 articles read" in page
    a, b, c = (article_id(demo, slug) for slug in "abc")
    assert checklist_of(page) == [
        ("missing", A, f"/articles/{a}"),
        ("missing", B, f"/articles/{b}"),
        ("missing", C, f"/articles/{c}"),
    ]
    assert "(rule set by alice)" in page
    page_text(bob, f"/articles/{b}")
    page = page_text(bob, "/premium/locked")
    assert "1 of 3 articles read" in page
    assert [state for state, _, _ in checklist_of(page)] == ["missing", "done", "missing"]
    assert '<span class="state">read</span>' in page
    assert '<span class="state">not read yet</span>' in page


def test_the_page_follows_alice_when_she_changes_the_articles(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    a, d = article_id(demo, "a"), article_id(demo, "d")
    page_text(bob, f"/articles/{a}")
    assert "1 of 3 articles read" in page_text(bob, "/premium/locked")

    _redefine_premium(
        demo,
        criteria={
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": [a, d],
        },
    )
    page = page_text(bob, "/premium/locked")
    assert "1 of 2 articles read" in page  # what bob read before the change counts
    assert checklist_of(page) == [("done", A, f"/articles/{a}"), ("missing", D, f"/articles/{d}")]
    # A restart seeds only missing goals: alice's change stays.
    with demo.app_context():
        init_database()
        assert gamify.goal(PREMIUM_RULE).criteria["values"] == [a, d]
    assert bob.get("/premium").location == "/premium/locked"
    page_text(bob, f"/articles/{d}")
    premium = page_text(bob, "/premium")
    assert "Premium content" in premium
    assert checklist_of(premium) == [("done", A, f"/articles/{a}"), ("done", D, f"/articles/{d}")]
    assert "You have unlocked it already" in page_text(bob, "/premium/locked")


def test_rules_that_are_not_a_reading_list_still_show_progress(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    # An article that was deleted, or mistyped, and a value given as a string.
    _redefine_premium(
        demo,
        criteria={
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": [str(article_id(demo, "a")), 999, 2**40],
        },
    )
    page = page_text(bob, "/premium/locked")
    assert checklist_of(page) == [
        ("missing", A, f"/articles/{article_id(demo, 'a')}"),
        ("missing", "Article 999 (no longer on the site)", None),
        ("missing", f"Article {2**40} (no longer on the site)", None),
    ]
    _redefine_premium(
        demo,
        criteria={"type": "distinct", "event": "article.read", "field": "article_id", "target": 2},
    )
    page_text(bob, f"/articles/{article_id(demo, 'd')}")
    page = page_text(bob, "/premium/locked")
    assert "<strong>1 of 2</strong>" in page
    assert "What it takes: article.read: 2 different article_id" in page
    assert checklist_of(page) == []
    with demo.app_context():
        gamify.archive_goal(PREMIUM_RULE)
    page = page_text(bob, "/premium/locked")
    assert "No rule unlocks the premium page at the moment" in page
    assert bob.get("/premium").status_code == 302


def test_unlocking_is_not_announced_as_a_badge(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    for slug in "abc":
        page_text(bob, f"/articles/{article_id(demo, slug)}")
    notes = {note["text"]: note["url"] for note in toasts(bob)}
    assert notes == {
        "Badge earned: Explorer (+10 points)": None,
        "Unlocked the premium page: Premium access (+25 points)": "/premium",
    }
    page = page_text(bob, "/notifications")
    assert (
        "You unlocked the premium page by completing &#39;Premium access&#39; (+25 points)." in page
    )
    assert "You earned the badge &#39;Explorer&#39; (+10 points)." in page
    assert user_id(demo, "bob")  # bob exists and is the one notified


def test_the_rule_names_its_articles_for_every_client(demo: Flask) -> None:
    """The seeded rule carries the titles as labels: the dashboard and the REST API show
    them too, not only the demo's page. An article alice adds without a label is named
    by its title on the page (the item's label is then its id)."""
    bob = client_of(demo, "bob")
    page_text(bob, f"/articles/{article_id(demo, 'b')}")
    with demo.app_context():
        progress = gamify.progress(user_id(demo, "bob"), PREMIUM_RULE)
        assert [(item.label, item.done) for item in progress.items] == [
            (A, False),
            (B, True),
            (C, False),
        ]
        criteria = dict(gamify.goal(PREMIUM_RULE).criteria)
    d = article_id(demo, "d")
    _redefine_premium(demo, criteria={**criteria, "values": [*criteria["values"], d]})
    with demo.app_context():
        items = gamify.progress(user_id(demo, "bob"), PREMIUM_RULE).items
        assert (items[-1].value, items[-1].label) == (d, str(d))
    state, label, link = checklist_of(page_text(bob, "/premium/locked"))[-1]
    assert (state, label, link) == ("missing", D, f"/articles/{d}")
