"""Alembic environment of gamify's migrations, run by :mod:`flask_gamify.migrate`.

It runs on the connection that module gives it (gamify's engine), with gamify's
metadata and version table; Alembic's own command line cannot give it that connection.
"""

from __future__ import annotations

from alembic import context

from flask_gamify.errors import GamifyError
from flask_gamify.migrate import VERSION_TABLE, include_object, metadata, render_item

connection = context.config.attributes.get("connection")
if connection is None:
    raise GamifyError(
        "Flask-Gamify's migrations run through 'flask gamify db upgrade' (or"
        " gamify.upgrade_db()), which know gamify's database; not through 'alembic'."
    )
context.configure(
    connection=connection,
    target_metadata=metadata(),
    version_table=VERSION_TABLE,
    include_object=include_object,
    render_item=render_item,
    compare_type=True,
    # SQLite alters tables by copying them: batch mode does that for every ALTER.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
