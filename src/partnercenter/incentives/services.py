"""services of the incentives app."""
