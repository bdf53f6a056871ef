"""API keys: high-entropy bearer tokens, stored as SHA-256 hashes, with scopes.

A key may be bound to an *owner* (``flask gamify keys create --owner alice``): it then
reads and writes only the goals whose ``owner`` is that one (see
:mod:`flask_gamify.api.auth`). An unbound key acts on every goal.

A key looks like ``gmf_3k9x2b7q_<43 random characters>``. The part up to the second
underscore is its *prefix*: stored in clear, shown by ``flask gamify keys list`` and
used to find the row; the whole key is only ever stored as a hash, and compared with
:func:`hmac.compare_digest`. The random part carries 256 bits, so a plain (unsalted,
fast) hash is safe: there is nothing to guess from a dictionary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import GamifyError, InvalidInputError
from ..models import ENTITY_LENGTH, Base, utcnow

__all__ = [
    "SCOPES",
    "ApiKey",
    "ApiKeyView",
    "KeyCache",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
]

#: Every scope a key can carry, and what it allows.
SCOPES: dict[str, str] = {
    "events:write": "Send events (POST /events).",
    "goals:read": "Read goal definitions.",
    "goals:write": "Create, change, archive and assign goals.",
    "progress:read": "Read progress, awards, assignments and notifications (and mark them"
    " read), points, levels and leaderboards.",
    "points:write": "Adjust entities' points and revoke awards.",
    "webhooks:write": "Manage webhook endpoints and read their delivery logs (keys bound to"
    " an owner are refused).",
}

KEY_MARK = "gmf"
NAME_LENGTH = 100
PREFIX_LENGTH = 8
#: ``last_used_at`` is written at most this often per key (one write per request would
#: turn every read into a write).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKey(Base):
    """An API key; the key itself is never stored, only its SHA-256 hash."""

    __tablename__ = "gamify_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    #: The visible start of the key (``gmf_3k9x2b7q``), to find and recognise it.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    #: Space-separated scopes.
    scopes: Mapped[str] = mapped_column(String(200))
    #: The goal owner the key is bound to (``None``: every goal); as long as a goal's.
    owner: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """An API key as listed (without its secret)."""

    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    #: The goal owner the key is bound to, or ``None`` for a key that acts on every goal.
    owner: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


#: What :func:`authenticate` reads of a key.
_COLUMNS = (
    ApiKey.id,
    ApiKey.name,
    ApiKey.prefix,
    ApiKey.key_hash,
    ApiKey.scopes,
    ApiKey.owner,
    ApiKey.created_at,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
)


def _view(key: Any) -> ApiKeyView:
    """A key as listed, from its ORM object or a row of its columns."""
    return ApiKeyView(
        name=key.name,
        prefix=key.prefix,
        scopes=tuple(key.scopes.split()),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        owner=key.owner,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError({field: [message]})


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """Validate scope names; raise :class:`InvalidInputError` (field ``scopes``) naming
    the unknown ones."""
    if isinstance(scopes, str) or not all(isinstance(scope, str) for scope in scopes):
        raise _invalid("scopes", f"Give a list of scope names among {', '.join(SCOPES)}.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise _invalid(
            "scopes",
            f"Unknown scope(s) {', '.join(unknown) or '(none given)'}; choose among"
            f" {', '.join(SCOPES)}.",
        )
    return tuple(scope for scope in SCOPES if scope in scopes)


def check_owner(owner: str) -> str:
    """Validate the owner a key is bound to; raise :class:`InvalidInputError` (field
    ``owner``) naming the fix."""
    if not isinstance(owner, str) or not owner.strip() or len(owner) > ENTITY_LENGTH:
        raise _invalid(
            "owner",
            f"A key's owner must be 1 to {ENTITY_LENGTH} characters long and not blank: the"
            " 'owner' of the goals the key may act on.",
        )
    if "\x00" in owner:
        raise _invalid("owner", "A key's owner may not contain NUL characters.")
    return owner


def create_key(
    session: Session, name: str, scopes: list[str], *, owner: str | None = None
) -> tuple[ApiKeyView, str]:
    """Create a key; return its view and the key itself (shown once, never stored).

    :param owner: bind the key to this goal owner: it then reads and writes only goals
        whose ``owner`` is this one. ``None`` (the default): every goal.
    :raises InvalidInputError: a bad or taken ``name``, unknown ``scopes`` or a bad
        ``owner``; :attr:`~InvalidInputError.errors` is keyed by those field names.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_LENGTH or not name.strip():
        raise _invalid("name", f"A key name must be 1 to {NAME_LENGTH} characters long.")
    if "\x00" in name:
        raise _invalid("name", "A key name may not contain NUL characters.")
    ordered = check_scopes(scopes)
    if owner is not None:
        check_owner(owner)
    if session.execute(select(ApiKey.id).where(ApiKey.name == name)).first() is not None:
        raise _invalid("name", f"A key named {name!r} exists already; choose another name.")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    prefix = f"{KEY_MARK}_{''.join(secrets.choice(alphabet) for _ in range(PREFIX_LENGTH))}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=_hash(token),
        scopes=" ".join(ordered),
        owner=owner,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return _view(key), token


def list_keys(session: Session) -> list[ApiKeyView]:
    """Every key, revoked ones too, oldest first."""
    return [_view(key) for key in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]


def revoke_key(session: Session, name_or_prefix: str) -> ApiKeyView:
    """Revoke the key with this name or prefix (revoking twice changes nothing)."""
    key = session.execute(
        select(ApiKey).where((ApiKey.name == name_or_prefix) | (ApiKey.prefix == name_or_prefix))
    ).scalar_one_or_none()
    if key is None:
        raise GamifyError(
            f"No API key is named {name_or_prefix!r} or starts with it; see"
            " 'flask gamify keys list'."
        )
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    return _view(key)


def authenticate(session: Session, token: str) -> ApiKeyView | None:
    """The unrevoked key matching ``token``, or ``None``."""
    # The secret part may contain "_" too: the prefix has a fixed length.
    size = len(KEY_MARK) + 1 + PREFIX_LENGTH
    prefix, separator = token[:size], token[size : size + 1]
    if not prefix.startswith(f"{KEY_MARK}_") or separator != "_" or len(token) > 200:
        return None
    # Every request with a key runs this: its columns, not an ORM object.
    key = session.execute(select(*_COLUMNS).where(ApiKey.prefix == prefix)).one_or_none()
    # The hash comparison runs in constant time; a missing prefix compares against a
    # dummy so both paths cost the same.
    expected = key.key_hash if key is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(token)) or key is None:
        return None
    if key.revoked_at is not None:
        return None
    view = _view(key)
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        view = dataclasses.replace(view, last_used_at=now)
    return view


class KeyCache:
    """Keys that authenticated recently, by the hash of their token, for ``ttl`` seconds.

    A request with a cached key needs no SQL for its key check. A revoked key is refused
    at once by the process that revoked it (the cache is emptied) and within ``ttl``
    seconds by every other (``GAMIFY_API_KEY_CACHE``). Unknown and revoked tokens are
    never cached. At most ``size`` keys are kept.
    """

    def __init__(self, ttl: float, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._keys: dict[str, tuple[float, ApiKeyView]] = {}
        self._lock = threading.Lock()
        #: Counts :meth:`clear` calls: a lookup that began before one is not kept (the
        #: key may have been revoked meanwhile).
        self._generation = 0

    def authenticate(
        self, token: str, lookup: Callable[[], ApiKeyView | None]
    ) -> ApiKeyView | None:
        """The key ``token`` belongs to: cached, else found by ``lookup`` (SQL)."""
        if self.ttl <= 0:
            return lookup()
        digest = _hash(token)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        generation = self._generation
        key = lookup()
        with self._lock:
            if key is None:
                self._keys.pop(digest, None)
                return None
            if generation != self._generation:
                return key  # read before a revocation in this process: not kept
            if len(self._keys) >= self.size:
                for stale in [d for d, (until, _) in self._keys.items() if until <= now]:
                    del self._keys[stale]
                while len(self._keys) >= self.size:  # the oldest entries go first
                    del self._keys[next(iter(self._keys))]
            self._keys[digest] = (now + self.ttl, key)
        return key

    def clear(self) -> None:
        """Forget every key (after a revocation)."""
        with self._lock:
            self._generation += 1
            self._keys.clear()
