"""Leads from the platform, dispatched to the partner's staff and recalled (O2)."""
