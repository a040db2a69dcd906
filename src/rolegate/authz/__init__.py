"""Authorization engine."""
