"""The alert store's SQL: one schema, the engine and its migrations, and one repository module per
concern whose functions take a :class:`sqlalchemy.engine.Connection`, so that the caller decides
which changes share a transaction (a review change and its audit entry always do)."""
