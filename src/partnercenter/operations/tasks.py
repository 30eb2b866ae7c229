"""tasks of the operations app."""
