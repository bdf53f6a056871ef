"""A real browser on the dashboard: Debian's Chromium driven by Playwright.

The app under test runs on a free port in a thread (``LiveServer``). Each browser test
saves screenshots (:func:`screenshot`) to ``$GAMIFY_SCREENSHOTS_DIR`` (default
``build/screenshots``); ``make screenshots`` writes them to the docs instead. Every
page is watched for JavaScript errors and Content-Security-Policy violations, which fail
the test.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

#: Debian's Chromium (``apt-get install chromium``); Playwright never downloads one here.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

#: Chromium flags for a machine whose network reaches only localhost.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class LiveServer:
    """``app`` served over HTTP on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def screenshots_dir() -> Path:
    directory = Path(os.environ.get("GAMIFY_SCREENSHOTS_DIR", "build/screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save what ``page`` shows as ``<name>.png``; return the file."""
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits and -")
    path = screenshots_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class PageProblems:
    """JavaScript errors, console errors and CSP violations seen on a page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # Failed loads are reported with their URL by _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def _response(self, response: Any) -> None:
        # Browsers ask for /favicon.ico on their own; the host app decides whether it has one.
        if response.status >= 500 or (
            response.status == 404 and not response.url.endswith("/favicon.ico")
        ):
            self.problems.append(
                f"HTTP {response.status}: {response.request.method} {response.url}"
            )

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)
