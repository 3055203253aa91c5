"""Alembic environment: facerec passes an open connection in ``config.attributes["connection"]``."""

from alembic import context

from facerec.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("facerec's migrations run through facerec.store.migrations.upgrade(), which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
