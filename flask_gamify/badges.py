"""Badge pictures: the built-in icon set, and uploaded badge images.

A goal's ``icon`` is either the name of a built-in icon (``"trophy"``), drawn as an SVG
file shipped with Flask-Gamify and served by the REST blueprint at
``{GAMIFY_API_PREFIX}/icons/<name>.svg``, or the address of an image: ``https://...``,
``http://...`` or a path on the same site (``/static/badges/reader.png``).

Uploaded images are PNG, JPEG, GIF or WebP of at most :data:`MAX_BADGE_IMAGE_BYTES`,
told apart by their first bytes (never by a file name). SVG is refused: an SVG file can
carry scripts. They are stored once per content, keyed by the SHA-256 of their bytes,
and served by the REST blueprint at ``{GAMIFY_API_PREFIX}/badge-images/<digest>``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, url_for
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .errors import BadgeImageError, InvalidInputError
from .models import ICON_LENGTH, BadgeImage, utcnow
from .sql import dialect_name

__all__ = [
    "BUILTIN_ICONS",
    "ICON_URL_PATTERN",
    "MAX_BADGE_IMAGE_BYTES",
    "icon_url",
    "image_type",
    "is_builtin_icon",
    "load_badge_image",
    "save_badge_image",
]

#: The names of the built-in icons, each ``static/gamify/icons/<name>.svg``.
BUILTIN_ICONS = (
    "book",
    "chat",
    "check",
    "code",
    "crown",
    "flag",
    "flame",
    "gift",
    "heart",
    "lightning",
    "medal",
    "rocket",
    "shield",
    "star",
    "target",
    "trophy",
)

#: Where the built-in icons' files are.
ICONS_DIRECTORY = Path(__file__).parent / "static" / "gamify" / "icons"

#: An icon that is not a built-in name: an ``http(s)`` address, or a path on the same
#: site. Printable ASCII without spaces (other characters are percent-encoded in URLs),
#: the same in Python's and JSON Schema's regular expressions.
ICON_URL_PATTERN = r"(?:https?://[!-~]+|/[!-~]*)"

#: The largest badge image accepted, in bytes.
MAX_BADGE_IMAGE_BYTES = 256 * 1024

#: A digest as stored: the SHA-256 of the image's bytes, in lower-case hex.
DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")

_SVG_START = re.compile(rb"^\s*(?:<\?xml|<svg|<!DOCTYPE\s+svg)", re.IGNORECASE)


def is_builtin_icon(icon: str) -> bool:
    """Whether ``icon`` names one of the :data:`BUILTIN_ICONS`."""
    return icon in BUILTIN_ICONS


def check_icon(icon: object) -> str:
    """Return ``icon`` if it is a built-in name or an address; else raise ``ValueError``."""
    if not isinstance(icon, str):
        raise ValueError("Must be text: a built-in icon's name or an image address.")
    if len(icon) > ICON_LENGTH:
        raise ValueError(f"Must be at most {ICON_LENGTH} characters long.")
    if is_builtin_icon(icon) or re.fullmatch(ICON_URL_PATTERN, icon):
        return icon
    raise ValueError(
        f"Must be a built-in icon ({', '.join(BUILTIN_ICONS)}) or an image address starting"
        " with https://, http:// or / (without spaces)."
    )


def icon_url(icon: str | None) -> str | None:
    """The address to show ``icon`` at: a built-in icon's file, or the address itself.

    Built-in icons are served by the REST blueprint; without it (``GAMIFY_API_PREFIX``
    empty) they have no address and ``None`` is returned, as for a goal without an icon.
    Needs an app context.
    """
    if not icon:
        return None
    if not is_builtin_icon(icon):
        return icon
    return _api_url("gamify_api.icon", f"/icons/{icon}.svg", name=icon)


def _api_url(endpoint: str, path: str, **values: Any) -> str | None:
    prefix = str(current_app.config.get("GAMIFY_API_PREFIX") or "")
    if not prefix or "gamify_api" not in current_app.blueprints:
        return None
    if has_request_context():
        # With the app's script root, when it is mounted below one.
        return str(url_for(endpoint, **values))
    return prefix.rstrip("/") + path


def image_type(data: bytes) -> str:
    """The content type of a badge image, by its first bytes.

    :raises BadgeImageError: not PNG, JPEG, GIF or WebP (SVG named as such), empty, or
        larger than :data:`MAX_BADGE_IMAGE_BYTES`.
    """
    if not isinstance(data, bytes | bytearray):
        raise BadgeImageError("Must be the bytes of an image file.")
    if not data:
        raise BadgeImageError("The file is empty; choose a PNG, JPEG, GIF or WebP image.")
    if len(data) > MAX_BADGE_IMAGE_BYTES:
        raise BadgeImageError(
            f"The image has {len(data)} bytes; at most {MAX_BADGE_IMAGE_BYTES} (256 KB) are"
            " accepted. Make it smaller (a badge is shown at 128 pixels or less)."
        )
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if _SVG_START.match(bytes(data[:1024]).lstrip(b"\xef\xbb\xbf")):
        raise BadgeImageError(
            "SVG images are refused: an SVG file can carry scripts. Export the badge as PNG"
            " or WebP, or choose a built-in icon."
        )
    raise BadgeImageError(
        "The file is not a PNG, JPEG, GIF or WebP image (its content says otherwise,"
        " whatever its name); choose an image in one of those formats."
    )


def save_badge_image(session: Session, data: bytes) -> str:
    """Store ``data`` (checked by :func:`image_type`) once; return its digest."""
    content_type = image_type(data)
    digest = hashlib.sha256(data).hexdigest()
    insert = postgresql_insert if dialect_name(session) == "postgresql" else sqlite_insert
    # The same image uploaded twice at once: one row, whichever writer wins.
    session.execute(
        insert(BadgeImage)
        .values(digest=digest, content_type=content_type, data=bytes(data), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["digest"])
    )
    return digest


def load_badge_image(session: Session, digest: str) -> tuple[str, bytes] | None:
    """``(content type, bytes)`` of the stored image ``digest``, or ``None``."""
    if not DIGEST_PATTERN.fullmatch(digest):
        return None
    row = session.execute(
        select(BadgeImage.content_type, BadgeImage.data).where(BadgeImage.digest == digest)
    ).first()
    return None if row is None else (row.content_type, row.data)


def badge_image_url(digest: str) -> str:
    """The address the REST blueprint serves the stored image ``digest`` at."""
    url = _api_url("gamify_api.badge_image", f"/badge-images/{digest}", digest=digest)
    if url is None:
        raise InvalidInputError(
            {
                "image": [
                    "Uploaded badge images are served by the REST API, which is off"
                    " (GAMIFY_API_PREFIX is empty); set GAMIFY_API_PREFIX or give the"
                    " icon as an address of your own."
                ]
            }
        )
    return url
