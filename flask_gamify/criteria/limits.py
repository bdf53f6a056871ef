"""Size limits of the criteria language, and checks on JSON-like values that never recurse.

Everything that walks untrusted JSON (criteria, request bodies, event attributes, goal
files) first checks it with :func:`too_deep` and :func:`unstorable_text`, which use an
explicit stack: input nested thousands of levels deep gets a clear error naming its
path, never a :class:`RecursionError`. Recursive code after these checks only ever sees
bounded depths.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_CHILDREN",
    "MAX_DEPTH",
    "MAX_JSON_DEPTH",
    "MAX_SIZE",
    "MAX_STEPS",
    "MAX_VALUES",
    "NO_NUL",
    "VISIBLE_NO_NUL",
    "is_visible",
    "json_size",
    "too_deep",
    "unstorable_text",
]

#: How deep ``all``/``any`` may nest; deeper criteria are almost surely a mistake.
MAX_DEPTH = 8
#: How deep objects and lists may nest anywhere in a criterion (``where`` operands too).
MAX_JSON_DEPTH = 32
#: Most children of one ``all``/``any``.
MAX_CHILDREN = 100
#: Most values of an ``all_of`` and of an ``in`` operand: every progress read lists the
#: values still missing, so this bounds the size of progress answers too.
MAX_VALUES = 1000
#: Most steps of a ``sequence``.
MAX_STEPS = 100
#: Largest criterion, in characters of its JSON form (about; see :func:`json_size`).
MAX_SIZE = 65536

#: Text without NUL characters (which databases refuse), as a JSON Schema pattern. Lone
#: surrogates are refused too, but no pattern says so: validators written in Rust or Go
#: cannot even hold such strings, and reject a pattern that names them; the documents
#: say it in words (I-JSON, RFC 7493).
NO_NUL = "^[^\\u0000]*$"
#: Blank characters, spelled out: JSON Schema's ``\\s`` (ECMA) and Python's differ
#: (U+0085 and U+001C-U+001F are blank in Python only, U+FEFF in ECMA only), and the
#: server must refuse exactly what the documents say it refuses.
_BLANK = (
    "\\t\\n\\u000b\\f\\r \\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
#: Text with a visible character and without NUL characters, as a JSON Schema pattern.
VISIBLE_NO_NUL = f"^[^\\u0000]*[^{_BLANK}\\u0000][^\\u0000]*$"
_VISIBLE = re.compile(VISIBLE_NO_NUL)


def is_visible(text: str) -> bool:
    """Whether ``text`` matches :data:`VISIBLE_NO_NUL` (the server's check of it)."""
    return _VISIBLE.match(text) is not None


_NUL_MESSAGE = "Must not contain NUL characters (\\u0000), which databases cannot store."
_SURROGATE_MESSAGE = (
    "Must not contain lone surrogates (\\ud800 to \\udfff), which are not valid Unicode"
    " text and cannot be stored; send well-formed UTF-8 text."
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _children(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(_child_path(path, key), item) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return [(_child_path(path, index), item) for index, item in enumerate(value)]
    return []


def too_deep(value: Any, limit: int, path: str = "") -> str | None:
    """The path of the first object or list nested more than ``limit`` deep, or ``None``.

    ``{"a": 1}`` is 1 deep, ``{"a": [1]}`` 2 deep. Uses no recursion.
    """
    stack = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if not isinstance(item, dict | list | tuple):
            continue
        if depth > limit:
            return where
        stack.extend((child, child_path, depth + 1) for child_path, child in _children(item, where))
    return None


def json_size(value: Any, limit: int) -> int:
    """About the length of ``value`` as JSON; stops counting once past ``limit``.

    Never encodes anything (an integer of a million digits costs nothing here), and
    stops early on shared substructures (a YAML alias bomb) as soon as they add up.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, dict):
            total += 2
            for key, child in item.items():
                stack.append(key)
                stack.append(child)
        elif isinstance(item, list | tuple):
            total += 2
            stack.extend(item)
        else:
            total += 8
    return total


def unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(path, message)`` of the first string (keys included) a database cannot store.

    NUL characters and lone surrogates (``"\\ud800"``, which JSON escapes and Python
    strings can carry but UTF-8 cannot encode) are refused. Uses no recursion.
    """
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return where or "value", problem
        elif isinstance(item, dict):
            for key in item:
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem:
                    # ascii() spells the bad characters as escapes: the path must itself
                    # be printable and storable.
                    return _child_path(where, ascii(key)), f"This key: {problem}"
            stack.extend((child, child_path) for child_path, child in _children(item, where))
        elif isinstance(item, list | tuple):
            stack.extend((child, child_path) for child_path, child in _children(item, where))
    return None


def _text_problem(text: str) -> str | None:
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    return _NUL_MESSAGE if match.group() == "\x00" else _SURROGATE_MESSAGE
