"""services of the operations app."""
