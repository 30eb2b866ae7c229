"""tasks of the usage app."""
