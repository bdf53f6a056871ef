"""Flask-Gamify's Alembic migrations (run by :mod:`flask_gamify.migrate`)."""
