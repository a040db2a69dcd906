"""Persistence: ORM records, the database handle and migrations."""
