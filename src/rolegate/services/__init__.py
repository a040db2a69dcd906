"""Domain services: the only code that changes stored state."""
