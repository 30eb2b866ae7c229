"""tasks of the customer_bills app."""
