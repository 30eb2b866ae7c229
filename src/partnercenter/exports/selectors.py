"""selectors of the exports app."""
