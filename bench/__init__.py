"""rolegate's authorization benchmark: ``make bench`` or ``python -m bench --help``."""
