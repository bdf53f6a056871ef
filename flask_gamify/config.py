"""Reading ``GAMIFY_*`` settings: every value is checked at ``init_app``, naming the key.

A wrong setting fails when the app starts, with a :class:`~flask_gamify.ConfigurationError`
that says which key is wrong and what it accepts, rather than later, in a worker or a
request, with an error that names neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from math import inf
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .criteria import parse_window
from .errors import ConfigurationError

__all__ = [
    "REDIS_SCHEMES",
    "check_api_settings",
    "duration",
    "flag",
    "integer",
    "name",
    "optional_name",
    "positive_number",
    "redis_url",
    "timezone",
]

#: URL schemes redis-py's ``Redis.from_url`` accepts.
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: The deepest ``GAMIFY_MAX_ATTRIBUTES_DEPTH``: code that walks attributes may recurse.
MAX_ATTRIBUTES_DEPTH = 32


def _invalid(key: str, value: Any, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{key} = {value!r} is invalid; {expected}")


def positive_number(config: Mapping[str, Any], key: str) -> float:
    """A number above zero (an ``int`` or a ``float``)."""
    value = config[key]
    number = value
    if isinstance(value, str):  # as from the environment
        with suppress(ValueError):
            number = float(value)
    if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number < inf:
        raise _invalid(key, value, "it must be a finite number above zero.")
    return float(number)


def integer(
    config: Mapping[str, Any], key: str, *, minimum: int = 1, maximum: int | None = None
) -> int:
    """A whole number within bounds (a string of digits, as from the environment, too)."""
    value = config[key]
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise _invalid(key, value, f"it must be a whole number of at least {minimum}.")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise _invalid(key, value, f"it must be a whole number {bounds}.")
    return number


def duration(config: Mapping[str, Any], key: str, *, allow_zero: bool = False) -> timedelta:
    """A duration: a timedelta, a number of seconds, or a string such as ``"7d"``."""
    value = config[key]
    expected = (
        "it must be a duration of 0 or more: a timedelta, a number of seconds, or a string"
        " such as '30s', '5m', '24h', '7d'."
        if allow_zero
        else "it must be a duration above zero: a timedelta, a number of seconds, or a"
        " string such as '30s', '5m', '24h', '7d'."
    )
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            result = timedelta(seconds=value)
        except (OverflowError, ValueError) as error:  # huge, inf or nan
            raise _invalid(key, value, expected) from error
    elif isinstance(value, str) and allow_zero and value.strip() in {"0", "0s"}:
        result = timedelta(0)
    else:
        try:
            result = parse_window(value)
        except ValueError as error:
            raise ConfigurationError(f"{key} = {value!r} is invalid. {error}") from error
    if result < timedelta(0) or (result == timedelta(0) and not allow_zero):
        raise _invalid(key, value, expected)
    return result


def flag(config: Mapping[str, Any], key: str) -> bool:
    """``True`` or ``False`` (not a string: ``"false"`` would be true)."""
    value = config[key]
    if not isinstance(value, bool):
        raise _invalid(key, value, "it must be True or False.")
    return value


def name(config: Mapping[str, Any], key: str, *, maximum: int = 200) -> str:
    """A non-empty string without blanks at its ends."""
    value = config[key]
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise _invalid(key, value, "it must be a non-empty string without surrounding spaces.")
    if len(value) > maximum:
        raise _invalid(key, value, f"it must be at most {maximum} characters long.")
    return value


def optional_name(config: Mapping[str, Any], key: str) -> str | None:
    """``None``, or a :func:`name`."""
    return None if config[key] is None else name(config, key)


def timezone(config: Mapping[str, Any], key: str = "GAMIFY_TIMEZONE") -> ZoneInfo:
    """An IANA time zone by name."""
    value = config[key]
    message = "it must name an IANA time zone such as 'UTC' or 'Europe/Paris'."
    if not isinstance(value, str) or not value:
        raise _invalid(key, value, message)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigurationError(
            f"{key} = {value!r} is not a known time zone; {message[3:]}"
        ) from error


def redis_url(config: Mapping[str, Any], key: str = "GAMIFY_REDIS_URL") -> str | None:
    """``None`` (inline processing) or a URL that redis-py can connect to."""
    value = config[key]
    if value is None or value == "":
        return None
    schemes = ", ".join(f"{scheme}://" for scheme in REDIS_SCHEMES)
    if not isinstance(value, str) or urlsplit(value).scheme not in REDIS_SCHEMES:
        # No value in the message: a URL may carry a password.
        scheme = urlsplit(value).scheme if isinstance(value, str) else type(value).__name__
        raise ConfigurationError(
            f"GAMIFY_REDIS_URL has the scheme {scheme!r}, which Redis does not speak; use"
            f" {schemes} (such as redis://localhost:6379/0), or None for inline processing."
        )
    return value


def check_api_settings(config: Mapping[str, Any]) -> None:
    """The REST API's keys (read again at each request, so that tests may change them)."""
    prefix = config["GAMIFY_API_PREFIX"]
    if prefix not in (None, "") and (not isinstance(prefix, str) or not prefix.startswith("/")):
        raise _invalid(
            "GAMIFY_API_PREFIX",
            prefix,
            "it must be a URL path starting with '/' (such as '/gamify/api'), or None for no"
            " REST API.",
        )
    integer(config, "GAMIFY_MAX_BATCH")
    integer(config, "GAMIFY_MAX_CONTENT_LENGTH")
