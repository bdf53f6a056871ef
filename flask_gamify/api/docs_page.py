"""The docs page (``/docs``): Swagger UI, vendored, showing the OpenAPI document.

The page is a shell: the vendored viewer and our small ``api-docs.js`` (which reads the
document's URL from a ``data-`` attribute) come from the API blueprint's static folder,
so the page runs no inline script and loads nothing from elsewhere.
"""

from __future__ import annotations

import html
from pathlib import Path

__all__ = ["DOCS_PAGE_POLICY", "STATIC_FOLDER", "SWAGGER_UI", "render_docs_page"]

#: The core package's static files, served by the API blueprint under ``/static``.
STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static" / "gamify"

#: Swagger UI's files, from the ``swagger-ui-dist`` npm package (Apache-2.0).
SWAGGER_UI = "vendor/swagger-ui-dist-5.35.0"

#: The docs page's Content-Security-Policy. Scripts and styles come from this server
#: alone: Swagger UI (React) sets styles through the DOM's style properties, which CSP
#: allows, and adds no ``<style>`` element or ``style`` attribute, so styles need no
#: ``'unsafe-inline'`` (``tests/test_api_docs_browser.py`` watches for violations).
#: ``connect-src 'self'`` lets try-it-out call the API; ``data:`` images are the icons
#: Swagger UI's stylesheet embeds.
DOCS_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)


def render_docs_page(spec_url: str, static_url: str) -> str:
    """The HTML shell of the viewer.

    :param spec_url: the OpenAPI document's URL.
    :param static_url: the URL of :data:`STATIC_FOLDER`, ending in ``/``.
    """
    spec = html.escape(spec_url)
    static = html.escape(static_url)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Flask-Gamify REST API</title>"
        f"<link rel='stylesheet' href='{static}{SWAGGER_UI}/swagger-ui.css'>"
        f"<link rel='stylesheet' href='{static}api-docs.css'>"
        "</head><body>"
        "<noscript><p>This page needs JavaScript. Read the"
        f" <a href='{spec}'>OpenAPI document</a> instead.</p></noscript>"
        f"<div id='swagger-ui' data-openapi-url='{spec}'></div>"
        f"<script src='{static}{SWAGGER_UI}/swagger-ui-bundle.js'></script>"
        f"<script src='{static}api-docs.js'></script>"
        "</body></html>"
    )
