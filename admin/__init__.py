"""The Flask-Admin dashboard of Flask-Gamify; installed as ``flask_gamify.admin``.

Requires the ``admin`` extra (``pip install flask-gamify[admin]``)::

    from flask_admin import Admin
    from flask_gamify.admin import GamifyAdmin

    admin = Admin(app, name="Back office")
    GamifyAdmin(admin, can_access=lambda: current_user.is_staff)

The dashboard is a client of the core like any host: it changes goals, awards and keys
through the public Python API only.
"""

from __future__ import annotations

from .access import Access, Scope
from .extension import GamifyAdmin

__all__ = ["Access", "GamifyAdmin", "Scope"]
