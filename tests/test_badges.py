"""Badge pictures: the ``icon`` goal option, built-in icons and uploaded badge images."""

from __future__ import annotations

import hashlib
import zlib

import pytest
from api_support import PREFIX
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import BadgeImageError, Gamify, GoalError
from flask_gamify.badges import BUILTIN_ICONS, ICONS_DIRECTORY, MAX_BADGE_IMAGE_BYTES

LOGIN = {"type": "count", "event": "login", "target": 1}


def png(width: int = 1, height: int = 1, padding: int = 0) -> bytes:
    """A valid PNG (a grey image), optionally padded with a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    if padding:
        chunks += chunk(b"tEXt", b"pad\x00" + b"x" * padding)
    return b"\x89PNG\r\n\x1a\n" + chunks + chunk(b"IEND", b"")


def test_every_builtin_icon_has_its_file() -> None:
    assert len(BUILTIN_ICONS) == 16
    for name in BUILTIN_ICONS:
        text = (ICONS_DIRECTORY / f"{name}.svg").read_text()
        assert text.startswith("<svg") and "<script" not in text, name


@pytest.mark.parametrize("icon", ["trophy", "https://cdn.example.com/b.png", "/static/b.png"])
def test_a_goal_keeps_its_icon_in_views_versions_and_files(
    app: Flask, gamify: Gamify, icon: str
) -> None:
    view = gamify.define_goal("first", criteria=LOGIN, icon=icon)
    assert view.icon == icon and view.to_dict()["icon"] == icon
    assert view.definition()["icon"] == icon
    assert gamify.goal_versions("first")[0].changes["icon"] == {"before": None, "after": icon}
    gamify.define_goal("first", criteria=LOGIN, icon="star")
    assert gamify.goal_versions("first")[1].changes == {"icon": {"before": icon, "after": "star"}}


def test_icon_url_points_at_the_builtin_file_or_the_address(app: Flask, gamify: Gamify) -> None:
    with app.test_request_context():
        assert gamify.define_goal("a", criteria=LOGIN, icon="medal").icon_url == (
            f"{PREFIX}/icons/medal.svg"
        )
        assert gamify.define_goal("b", criteria=LOGIN, icon="/x.png").icon_url == "/x.png"
        assert gamify.define_goal("c", criteria=LOGIN).icon_url is None
    assert gamify.goal("a").icon_url == f"{PREFIX}/icons/medal.svg"  # app context only


@pytest.mark.parametrize(
    "icon",
    ["nosuchicon", "javascript:alert(1)", "data:image/png;base64,AAAA", "/a b.png", "/" * 501, 7],
)
def test_a_bad_icon_is_refused_naming_the_field(app: Flask, gamify: Gamify, icon: object) -> None:
    with pytest.raises(GoalError) as caught:
        gamify.define_goal("bad", criteria=LOGIN, icon=icon)
    assert list(caught.value.errors) == ["icon"]


def test_builtin_icons_are_served_as_svg(client: FlaskClient) -> None:
    response = client.get(f"{PREFIX}/icons/trophy.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert client.get(f"{PREFIX}/icons/nosuch.svg").status_code == 404


def test_a_stored_image_is_served_with_its_type_nosniff_and_long_caching(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    data = png()
    with app.test_request_context():
        url = gamify.store_badge_image(data)
        assert gamify.store_badge_image(data) == url, "the same image is stored once"
    digest = hashlib.sha256(data).hexdigest()
    assert url == f"{PREFIX}/badge-images/{digest}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": f'"{digest}"'}).status_code == 304
    # An uploaded image's address is a valid icon.
    assert gamify.define_goal("pictured", criteria=LOGIN, icon=url).icon == url


def test_unknown_digests_answer_404(client: FlaskClient) -> None:
    assert client.get(f"{PREFIX}/badge-images/{'0' * 64}").status_code == 404
    assert client.get(f"{PREFIX}/badge-images/not-a-digest").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"  <svg onload='alert(1)'></svg>", "SVG"),
        (b"\x89PNX fake png", "not a PNG"),
        (b"", "empty"),
        (png(padding=MAX_BADGE_IMAGE_BYTES), "at most"),
    ],
)
def test_images_that_are_not_small_raster_images_are_refused(
    app: Flask, gamify: Gamify, data: bytes, message: str
) -> None:
    with app.test_request_context(), pytest.raises(BadgeImageError, match=message) as caught:
        gamify.store_badge_image(data)
    assert list(caught.value.errors) == ["image"]


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_jpeg_gif_and_webp_are_told_by_their_first_bytes(
    app: Flask, gamify: Gamify, client: FlaskClient, head: bytes, content_type: str
) -> None:
    with app.test_request_context():
        url = gamify.store_badge_image(head + b"\x00" * 32)
    assert client.get(url).mimetype == content_type


def test_without_the_rest_api_nothing_is_stored(database_url: str) -> None:
    from flask_sqlalchemy import SQLAlchemy

    from flask_gamify.models import BadgeImage

    app = Flask("no_api")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, GAMIFY_API_PREFIX="")
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.create_all()
        with pytest.raises(Exception, match="GAMIFY_API_PREFIX"):
            gamify.store_badge_image(png())
        with gamify.state.transaction() as session:
            assert session.query(BadgeImage).count() == 0
        assert gamify.define_goal("x", criteria=LOGIN, icon="star").icon_url is None
        gamify.drop_all()
        for engine in db.engines.values():
            engine.dispose()
