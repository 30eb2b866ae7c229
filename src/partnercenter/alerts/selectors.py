"""Reads of the alerts app."""
