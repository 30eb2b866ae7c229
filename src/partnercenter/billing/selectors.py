"""selectors of the billing app."""
