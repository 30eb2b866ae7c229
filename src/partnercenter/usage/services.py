"""services of the usage app."""
