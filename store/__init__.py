"""Persistence: the async engine, the tables and the Alembic migrations. Imports nothing of ours."""
