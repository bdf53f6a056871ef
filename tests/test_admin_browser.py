"""The dashboard in a real browser: pages load under a strict CSP without script errors."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot

pytestmark = pytest.mark.browser


def test_the_dashboard_opens_for_staff(admin_page: Any, live_admin: str) -> None:
    admin_page.goto(f"{live_admin}{ADMIN}/")
    assert admin_page.locator(".navbar-brand").inner_text() == "Gamification"
    assert admin_page.evaluate("typeof window.Gamify.send") == "function"
    screenshot(admin_page, "admin-home")
