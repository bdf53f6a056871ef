"""The Webhooks page of the dashboard: access, CSRF, adding with errors at the field,
the secret shown once, test, rotate, enable/disable, remove, the delivery log, retries."""

from __future__ import annotations

import re

import pytest
from admin_support import ADMIN, csrf_token, login
from flask.testing import FlaskClient

from flask_gamify import Gamify

PAGE = ADMIN + "/gamify_webhooks/"
URL = "https://crm.example.com/hooks/gamify"
POSTS = ["add/", "1/test/", "1/rotate/", "1/enable/", "1/disable/", "1/remove/", "1/retry/"]


def html_of(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def staff(admin_client: FlaskClient) -> tuple[FlaskClient, str]:
    login(admin_client, "staff")
    return admin_client, csrf_token(admin_client, PAGE)


@pytest.mark.parametrize("user", [None, "visitor", "alice"])
@pytest.mark.parametrize("path", ["", "1/", *POSTS])
def test_only_superusers_reach_webhooks(
    admin_client: FlaskClient, gamify: Gamify, user: str | None, path: str
) -> None:
    gamify.add_webhook(URL, events=["*"])
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    login(admin_client, user)
    if path in POSTS:
        response = admin_client.post(
            PAGE + path, data={"csrf_token": token, "url": URL, "events": "*", "grace": "0"}
        )
    else:
        response = admin_client.get(PAGE + path)
    assert response.status_code == 403
    assert [endpoint.url for endpoint in gamify.webhooks()] == [URL]
    assert gamify.webhook_deliveries() == []


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_csrf_token(
    admin_client: FlaskClient, gamify: Gamify, path: str
) -> None:
    endpoint = gamify.add_webhook(URL, events=["*"])
    login(admin_client, "staff")
    form = {"url": "https://other.example.com/", "events": "*", "grace": "0", "which": "dead"}
    for token in (None, "forged"):
        data = form if token is None else {**form, "csrf_token": token}
        response = admin_client.post(PAGE + path, data=data)
        assert response.status_code == 400
    assert "security token" in html_of(response)
    assert gamify.webhooks() == [gamify.webhook(endpoint.id)]
    assert gamify.webhook(endpoint.id).enabled
    assert gamify.webhook_deliveries() == []


def test_the_page_is_in_the_menu_and_linked_from_operations(
    staff: tuple[FlaskClient, str],
) -> None:
    client, _ = staff
    operations = html_of(client.get(ADMIN + "/gamify_operations/"))
    assert f'href="{PAGE}"' in operations
    page = html_of(client.get(PAGE))
    assert "No webhook endpoints yet." in page
    assert "flask gamify webhooks deliver" in page  # inline mode says who sends


def test_adding_shows_the_secret_once(staff: tuple[FlaskClient, str], gamify: Gamify) -> None:
    client, token = staff
    response = client.post(
        PAGE + "add/",
        data={
            "csrf_token": token,
            "url": URL,
            "events": ["award.created", "assignment.completed"],
            "description": "CRM",
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = html_of(response)
    secret = re.search(r'value="(whsec_[^"]+)"', html)
    assert secret is not None
    [endpoint] = gamify.webhooks()
    assert endpoint.events == ("assignment.completed", "award.created")
    assert endpoint.description == "CRM"
    assert "shown only this once" in html
    again = html_of(client.get(PAGE))
    assert secret.group(1) not in again and "webhook-secret-value" not in again
    assert f'data-webhook="{endpoint.id}"' in again


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"url": "ftp://x.example.com/", "events": "*"}, "url", "scheme must be http or https"),
        ({"url": "http://192.168.1.20/hooks", "events": "*"}, "url", "a private address"),
        ({"url": "", "events": "*"}, "url", "Give the endpoint&#39;s URL"),
        ({"url": URL}, "events", "Subscribe to at least one event type"),
        ({"url": URL, "events": "award.won"}, "events", "Unknown event type"),
        ({"url": URL, "events": "*", "description": "x" * 1001}, "description", "1000"),
    ],
)
def test_mistakes_are_shown_at_the_field(
    staff: tuple[FlaskClient, str], gamify: Gamify, form: dict[str, str], field: str, words: str
) -> None:
    client, token = staff
    response = client.post(PAGE + "add/", data={"csrf_token": token, **form})
    assert response.status_code == 422
    html = html_of(response)
    marked = {
        "url": 'is-invalid" id="webhook-url"',
        "events": 'is-invalid" type="checkbox" name="events"',
        "description": 'is-invalid" id="webhook-description"',
    }
    assert [name for name, text in marked.items() if text in html] == [field]
    feedback = re.findall(r'<div class="invalid-feedback[^"]*">([^<]+)</div>', html)
    assert any(words in message for message in feedback), feedback
    if form.get("url"):
        assert f'value="{form["url"]}"' in html  # what was typed is kept
    assert gamify.webhooks() == []


def test_test_rotate_disable_enable_remove(staff: tuple[FlaskClient, str], gamify: Gamify) -> None:
    client, token = staff
    endpoint = gamify.add_webhook(URL, events=["*"])
    base = f"{PAGE}{endpoint.id}/"

    tested = client.post(base + "test/", data={"csrf_token": token}, follow_redirects=True)
    assert "Queued a webhook.test event" in html_of(tested)
    [delivery] = gamify.webhook_deliveries(endpoint.id)
    assert delivery.event_type == "webhook.test" and delivery.status == "pending"
    assert f'data-delivery="{delivery.id}"' in html_of(tested)

    rotated = client.post(base + "rotate/", data={"csrf_token": token, "grace": "3600"})
    assert rotated.headers["Cache-Control"] == "no-store"
    assert "previous secret keeps signing until" in html_of(rotated)
    assert gamify.webhook(endpoint.id).previous_secret_until is not None
    refused = client.post(base + "rotate/", data={"csrf_token": token, "grace": "99"})
    assert refused.status_code == 302

    disabled = client.post(base + "disable/", data={"csrf_token": token}, follow_redirects=True)
    assert "Disabled webhook" in html_of(disabled)
    assert "Disabled by an operator on the dashboard." in html_of(disabled)
    assert not gamify.webhook(endpoint.id).enabled
    enabled = client.post(base + "enable/", data={"csrf_token": token}, follow_redirects=True)
    assert "Enabled webhook" in html_of(enabled)
    assert gamify.webhook(endpoint.id).enabled

    removed = client.post(base + "remove/", data={"csrf_token": token}, follow_redirects=True)
    assert f"Removed webhook {endpoint.id}" in html_of(removed)
    assert gamify.webhooks() == []
    gone = client.post(base + "test/", data={"csrf_token": token}, follow_redirects=True)
    assert "There is no webhook with id" in html_of(gone)
    assert client.get(base, follow_redirects=True).status_code == 200


def test_the_log_pages_filters_and_retries(staff: tuple[FlaskClient, str], gamify: Gamify) -> None:
    client, token = staff
    endpoint = gamify.add_webhook(URL, events=["*"])
    for _ in range(53):
        gamify.test_webhook(endpoint.id)
    base = f"{PAGE}{endpoint.id}/"
    first = html_of(client.get(base))
    assert first.count("data-delivery=") == 50
    older = re.search(r'href="([^"]+before=\d+[^"]*)"', first)
    assert older is not None
    second = html_of(client.get(older.group(1).replace("&amp;", "&")))
    assert second.count("data-delivery=") == 3
    assert "Retry all dead" not in first
    assert html_of(client.get(base + "?status=dead")).count("data-delivery=") == 0
    assert "No deliveries in status dead yet." in html_of(client.get(base + "?status=dead"))

    nothing = client.post(
        base + "retry/", data={"csrf_token": token, "which": "dead"}, follow_redirects=True
    )
    assert "There was no dead delivery to retry." in html_of(nothing)
    unknown = client.post(
        base + "retry/", data={"csrf_token": token, "delivery": "999"}, follow_redirects=True
    )
    assert "There is no delivery with id 999" in html_of(unknown)
