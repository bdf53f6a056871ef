"""The demo's to-do lists: due dates, checklists, re-assigning, and the words of the news."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from demo_support import article_id, checklist_of, client_of, demo, page_text, toasts, user_id
from flask import Flask

from demo_app.extensions import gamify

__all__ = ["demo"]  # the fixture, imported for the tests below

A, D = "Article A: Flask in five minutes", "Article D: Testing"


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _new_list(
    app: Flask, title: str, *slugs: str, due: str = "", to: str = "bob"
) -> dict[str, object]:
    articles = [str(article_id(app, slug)) for slug in slugs]
    return {"assignee": to, "goal": "", "title": title, "articles": articles, "due": due}


def test_a_list_with_a_due_date_is_a_checklist_for_both_sides(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    due = date.today() + timedelta(days=7)
    response = alice.post(
        "/todos",
        data=_new_list(demo, "Basics", "a", "d", due=due.isoformat()),
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert f"To-do list &#39;Basics&#39; assigned to bob, due {_day(due)}." in response.get_data(
        as_text=True
    )
    a, d = article_id(demo, "a"), article_id(demo, "d")
    with demo.app_context():
        (assignment,) = gamify.assignments(assignee=user_id(demo, "bob"))
    assert assignment.due_at == datetime(due.year, due.month, due.day, 23, 59, 59, tzinfo=UTC)

    bob = client_of(demo, "bob")
    page = page_text(bob, "/todos")
    assert 'Basics <span class="muted">from alice</span>' in page
    assert f"Due {_day(due)}" in page
    assert "0 of 2 articles read" in page
    assert checklist_of(page) == [
        ("missing", A, f"/articles/{a}"),
        ("missing", D, f"/articles/{d}"),
    ]
    page_text(bob, f"/articles/{d}")
    page = page_text(bob, "/todos")
    assert "1 of 2 articles read" in page
    assert checklist_of(page) == [("missing", A, f"/articles/{a}"), ("done", D, f"/articles/{d}")]
    # alice sees the same, per assignee.
    page = page_text(alice, "/todos")
    assert 'Basics <span class="muted">to bob</span>' in page
    assert checklist_of(page) == [("missing", A, f"/articles/{a}"), ("done", D, f"/articles/{d}")]

    page_text(bob, f"/articles/{a}")
    assert [note["text"] for note in toasts(bob) if "Basics" in note["text"]] == [
        "To-do list done: Basics (+5 points)"
    ]
    news = toasts(alice)
    assert [(note["kind"], note["text"], note["url"]) for note in news] == [
        ("assignment-completed", "Your to-do list 'Basics' was completed by bob", "/todos")
    ]
    page = page_text(alice, "/todos")
    assert f"Done {_day(date.today())}" in page
    assert [state for state, _, _ in checklist_of(page)] == ["done", "done"]


def test_an_overdue_list_says_so(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    assert alice.post("/todos", data=_new_list(demo, "Late", "a", to="carol")).status_code == 302
    with demo.app_context():
        # The form refuses past dates; the core does not, and a list can fall behind.
        gamify.define_goal(
            "todo.past",
            name="Past",
            criteria={"type": "count", "event": "comment.posted", "target": 1},
            assigned_only=True,
        )
        gamify.assign(
            "todo.past",
            assignee=user_id(demo, "carol"),
            assigned_by=user_id(demo, "alice"),
            due_at=datetime.now(UTC) - timedelta(days=2),
        )
    page = page_text(client_of(demo, "carol"), "/todos")
    assert page.count('<span class="pill overdue">Overdue</span>') == 1
    assert f"since {_day(date.today() - timedelta(days=2))}" in page
    assert "No due date" in page  # the list without one
    assert "Overdue" in page_text(alice, "/todos")


def test_bad_due_dates_are_refused_beside_the_field_and_the_form_kept(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    yesterday = date.today() - timedelta(days=1)
    cases = {
        yesterday.isoformat(): f"{_day(yesterday)} is in the past: pick today",
        "31/12/2026": "&#39;31/12/2026&#39; is not a date: enter it as YYYY-MM-DD",
        "2026-02-30": "&#39;2026-02-30&#39; is not a date",
        "9999-12-31": "Pick a due date within the next five years.",
        "<script>x</script>": "&#39;&lt;script&gt;x&lt;/script&gt;&#39; is not a date",
    }
    for due, message in cases.items():
        response = alice.post(
            "/todos", data=_new_list(demo, "Catch up", "a", "d", due=due, to="carol")
        )
        assert response.status_code == 400, due
        page = response.get_data(as_text=True)
        assert f'<span class="field-error" id="due-error">{message}' in page, due
        assert 'aria-invalid="true" aria-describedby="due-error"' in page
        assert 'value="Catch up"' in page  # the title stays
        assert "<option selected>carol</option>" in page
        assert page.count(" checked>") == 2  # and the ticked articles
    with demo.app_context():
        assert gamify.assignments(assigned_by=user_id(demo, "alice")) == []
    # Today is fine: due by the end of the day.
    form = _new_list(demo, "Catch up", "a", due=date.today().isoformat(), to="carol")
    assert alice.post("/todos", data=form).status_code == 302


def test_other_mistakes_are_named_beside_their_field(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    cases = [
        ({"assignee": "mallory"}, "assignee", "Pick another user"),
        ({"assignee": "alice"}, "assignee", "Pick another user"),
        ({"title": "  !!  "}, "title", "Give the new list a title"),
        ({"articles": []}, "articles", "Tick at least one article"),
        (
            {"articles": ["abc", "99999999999999999999"]},
            "articles",
            "Tick articles from the list below.",
        ),
        (
            {"goal": "premium-unlock", "title": "", "articles": []},
            "goal",
            "Pick one of the listed to-do lists",
        ),
        (
            {"goal": "onboarding"},
            "goal",
            "You picked an existing list and also filled in a new one",
        ),
        ({"title": "x" * 300}, "title", "Keep the title to 100 characters or fewer."),
    ]
    for change, field, message in cases:
        response = alice.post("/todos", data={**_new_list(demo, "Basics", "a"), **change})
        assert response.status_code == 400, change
        page = response.get_data(as_text=True)
        assert f'<span class="field-error" id="{field}-error">' in page, change
        assert message in page.split(f'id="{field}-error">')[1].split("</span>")[0], change
    with demo.app_context():
        assert gamify.assignments(assigned_by=user_id(demo, "alice")) == []


def test_a_new_list_never_redefines_one_of_the_same_name(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    assert alice.post("/todos", data=_new_list(demo, "Basics", "a")).status_code == 302
    response = alice.post("/todos", data=_new_list(demo, "basics!", "d", to="carol"))
    assert response.status_code == 400
    assert (
        "You already have a list called &#39;basics!&#39;: pick it under To-do list"
        in response.get_data(as_text=True)
    )
    with demo.app_context():
        key = f"todo.{user_id(demo, 'alice')}.basics"
        assert gamify.goal(key).criteria["values"] == [article_id(demo, "a")]


def test_assigning_an_open_list_again_changes_nothing_and_says_so(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    due = date.today() + timedelta(days=3)
    assert (
        alice.post("/todos", data=_new_list(demo, "Basics", "a", due=due.isoformat())).status_code
        == 302
    )
    key = f"todo.{user_id(demo, 'alice')}.basics"
    later = date.today() + timedelta(days=30)
    response = alice.post(
        "/todos",
        data={"assignee": "bob", "goal": key, "due": later.isoformat()},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert (
        f"bob already has &#39;Basics&#39; (assigned on {_day(date.today())}, due {_day(due)}):"
        " nothing changed. An assigned list keeps its first due date."
    ) in page
    with demo.app_context():
        (assignment,) = gamify.assignments(assignee=user_id(demo, "bob"))
    assert assignment.due_at is not None and assignment.due_at.date() == due
    # Assigned by someone else: the message says who.
    carol = client_of(demo, "carol")
    page = carol.post(
        "/todos", data={"assignee": "bob", "goal": key}, follow_redirects=True
    ).get_data(as_text=True)
    assert (
        f"bob already has &#39;Basics&#39; (assigned by alice on {_day(date.today())},"
        f" due {_day(due)}): nothing changed.</div>" in page
    )


def test_assigning_a_completed_list_again_says_to_create_a_new_one(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    assert alice.post("/todos", data=_new_list(demo, "Basics", "d")).status_code == 302
    page_text(client_of(demo, "bob"), f"/articles/{article_id(demo, 'd')}")
    key = f"todo.{user_id(demo, 'alice')}.basics"
    page = alice.post(
        "/todos", data={"assignee": "bob", "goal": key}, follow_redirects=True
    ).get_data(as_text=True)
    assert (
        f"bob already completed &#39;Basics&#39; on {_day(date.today())}: a finished list is not"
        " assigned again; create a new list to give them more."
    ) in page
    with demo.app_context():
        (assignment,) = gamify.assignments(assignee=user_id(demo, "bob"))
    assert assignment.completed


def test_the_onboarding_steps_are_a_checklist_and_no_badge(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    assert alice.post("/todos", data={"assignee": "carol", "goal": "onboarding"}).status_code == 302
    carol = client_of(demo, "carol")
    welcome = article_id(demo, "welcome")
    page = page_text(carol, "/todos")
    assert checklist_of(page) == [
        ("missing", "Read Welcome to the demo", f"/articles/{welcome}"),
        ("missing", "Post a comment", None),
    ]
    page_text(carol, f"/articles/{welcome}")
    assert [state for state, _, _ in checklist_of(page_text(carol, "/todos"))] == [
        "done",
        "missing",
    ]
    carol.post(f"/articles/{welcome}/comments", data={"body": "Hello"})
    texts = [note["text"] for note in toasts(carol)]
    assert "To-do list done: Onboarding (+10 points)" in texts
    assert not [text for text in texts if "Onboarding" in text and "Badge" in text]
    assert [note["text"] for note in toasts(alice)] == [
        "Your to-do list 'Onboarding' was completed by carol"
    ]


def test_a_title_in_any_language(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    for title in ("Лучший список", "読書リスト"):
        assert alice.post("/todos", data=_new_list(demo, title, "a")).status_code == 302
    page = page_text(alice, "/todos")
    assert "Лучший список" in page and "読書リスト" in page
    with demo.app_context():
        lists = {goal.name: goal.key for goal in gamify.goals() if goal.assigned_only}
        alice_id = user_id(demo, "alice")
        assert lists["Лучший список"] == f"todo.{alice_id}.list"
        assert lists["読書リスト"] == f"todo.{alice_id}.list-2"
