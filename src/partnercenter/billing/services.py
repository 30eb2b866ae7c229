"""services of the billing app."""
