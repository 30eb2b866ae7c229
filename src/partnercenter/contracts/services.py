"""Writes of the contracts app."""
