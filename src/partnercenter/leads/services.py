"""Writes of the leads app."""
