"""services of the expenditure app."""
