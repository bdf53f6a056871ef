"""Flask-Admin goal editor and dashboard for Flask-Gamify; installed as ``flask_gamify.admin``.

Requires the ``admin`` extra.
"""

from __future__ import annotations
