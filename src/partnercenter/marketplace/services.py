"""Writes of the marketplace app."""
