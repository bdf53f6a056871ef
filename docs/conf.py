"""Sphinx configuration for Flask-Gamify."""

from __future__ import annotations

project = "Flask-Gamify"
author = "Flask-Gamify contributors"
copyright = "2025, Flask-Gamify contributors"
release = "0.1.0.dev0"
version = "0.1"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
# No sphinx.ext.intersphinx: documentation builds must not need the network.

master_doc = "index"
exclude_patterns = ["_build"]
nitpicky = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "alabaster"
html_title = "Flask-Gamify"
