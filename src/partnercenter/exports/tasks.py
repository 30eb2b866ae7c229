"""tasks of the exports app."""
