"""selectors of the customer_bills app."""
