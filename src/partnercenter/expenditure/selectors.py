"""selectors of the expenditure app."""
