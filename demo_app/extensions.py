"""The extension objects, created once and bound to each app in :func:`create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify

#: The host app's own Flask-SQLAlchemy instance; gamify writes through a session of its own.
db = SQLAlchemy()
gamify = Gamify(db=db)
login_manager = LoginManager()
