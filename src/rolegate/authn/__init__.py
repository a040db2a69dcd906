"""Authentication engines."""
