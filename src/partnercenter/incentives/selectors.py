"""selectors of the incentives app."""
