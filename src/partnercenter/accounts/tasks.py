"""tasks of the accounts app."""
