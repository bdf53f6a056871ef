"""Who reaches the dashboard: closed by default, authors scoped to their goals, CSRF."""

from __future__ import annotations

import pytest
from admin_support import ADMIN, csrf_token, install_admin, login
from flask import Flask
from flask.testing import FlaskClient
from flask_admin import Admin

from flask_gamify import ConfigurationError, Gamify
from flask_gamify.admin import GamifyAdmin

PAGES = ["/", "/gamify_goals/", "/gamify_awards/", "/gamify_progress/", "/gamify_assignments/"]


def test_without_can_access_the_dashboard_refuses_to_start(app: Flask) -> None:
    with pytest.raises(ConfigurationError, match="can_access"):
        GamifyAdmin(app)


def test_created_after_the_first_request_says_when_to_create_it(app: Flask) -> None:
    app.test_client().get("/")
    with pytest.raises(ConfigurationError, match="before the app serves its first request"):
        GamifyAdmin(app, can_access=lambda: True)


def test_needs_flask_gamify_on_the_app() -> None:
    bare = Flask("bare")
    bare.config["SECRET_KEY"] = "x"
    with pytest.raises(ConfigurationError, match=r"gamify.init_app\(app\)"):
        GamifyAdmin(bare, can_access=lambda: True)


@pytest.mark.parametrize("page", [*PAGES, "/gamify_operations/"])
@pytest.mark.parametrize("user", [None, "visitor"])
def test_people_the_host_does_not_let_in_get_403_everywhere(
    admin_client: FlaskClient, user: str | None, page: str
) -> None:
    login(admin_client, user)
    assert admin_client.get(ADMIN + page).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_staff_reach_every_page(admin_client: FlaskClient, page: str) -> None:
    login(admin_client, "staff")
    assert admin_client.get(ADMIN + page).status_code == 200


def test_authors_do_not_see_operations(admin_client: FlaskClient) -> None:
    login(admin_client, "alice")
    assert admin_client.get(ADMIN + "/gamify_operations/").status_code == 403
    menu = admin_client.get(ADMIN + "/").get_data(as_text=True)
    assert "gamify_operations" not in menu
    assert "gamify_goals" in menu


def _define(app: Flask, key: str, owner: str) -> int:
    gamify: Gamify = app.extensions["gamify"].extension
    gamify.define_goal(key, criteria={"type": "count", "event": "login", "target": 1}, owner=owner)
    from flask_gamify.models import Goal

    with app.extensions["gamify"].transaction() as session:
        return session.query(Goal.id).filter(Goal.key == key).scalar()  # type: ignore[no-any-return]


def test_authors_see_only_their_own_goals(admin_app: Flask, admin_client: FlaskClient) -> None:
    _define(admin_app, "alices-badge", "alice")
    bobs = _define(admin_app, "bobs-badge", "bob")
    login(admin_client, "alice")
    listing = admin_client.get(ADMIN + "/gamify_goals/").get_data(as_text=True)
    assert "alices-badge" in listing
    assert "bobs-badge" not in listing
    details = admin_client.get(f"{ADMIN}/gamify_goals/details/?id={bobs}")
    assert details.status_code == 302  # Flask-Admin's "record does not exist" redirect
    login(admin_client, "staff")
    listing = admin_client.get(ADMIN + "/gamify_goals/").get_data(as_text=True)
    assert "alices-badge" in listing and "bobs-badge" in listing


def test_flask_admin_forms_need_the_csrf_token(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert csrf_token(admin_client)
    # A delete without the token is refused before the view runs.
    response = admin_client.post(ADMIN + "/gamify_goals/delete/", data={"id": "1"})
    assert response.status_code == 400


def test_hangs_on_the_hosts_admin_with_prefixed_endpoints(app: Flask) -> None:
    admin = Admin(app, name="Back office")
    install_admin(app, admin=admin)
    client = app.test_client()
    login(client, "staff")
    home = client.get("/admin/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert "Gamification" in html
    assert client.get("/admin/gamify_goals/").status_code == 200
    assert client.get("/admin/gamify_dashboard/").status_code == 200
    assert "gamify_admin" not in app.blueprints


def test_with_flask_wtf_its_token_guards_our_forms_and_ajax(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    install_admin(app)
    client = app.test_client()
    login(client, "staff")
    token = csrf_token(client)
    refused = client.post(ADMIN + "/gamify_goals/delete/", data={"id": "1"})
    assert refused.status_code == 400
    assert "CSRF token is missing" in refused.get_data(as_text=True)
    # The token our pages carry is Flask-WTF's own: it lets the same request through.
    allowed = client.post(
        ADMIN + "/gamify_goals/delete/", data={"id": "1"}, headers={"X-CSRFToken": token}
    )
    assert allowed.status_code != 400
    from flask_admin.form import BaseForm, SecureForm

    [goals] = [v for v in app.extensions["gamify_admin"].views if v.endpoint == "gamify_goals"]
    assert goals.form_base_class is BaseForm and not issubclass(goals.form_base_class, SecureForm)


def test_without_flask_wtf_forms_are_secure_forms(admin_app: Flask) -> None:
    from flask_admin.form import SecureForm

    goals = admin_app.extensions["gamify_admin"].views[0]
    assert goals.endpoint == "gamify_goals"
    assert goals.form_base_class is SecureForm
