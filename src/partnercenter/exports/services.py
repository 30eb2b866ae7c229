"""services of the exports app."""
