"""Reads of the marketplace app."""
