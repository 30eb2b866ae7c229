"""tasks of the expenditure app."""
