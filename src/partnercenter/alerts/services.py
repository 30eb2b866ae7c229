"""Writes of the alerts app."""
