"""tasks of the incentives app."""
