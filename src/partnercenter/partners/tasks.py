"""tasks of the partners app."""
