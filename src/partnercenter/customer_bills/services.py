"""services of the customer_bills app."""
