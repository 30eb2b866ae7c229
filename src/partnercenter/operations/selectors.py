"""selectors of the operations app."""
