"""selectors of the usage app."""
