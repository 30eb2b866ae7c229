"""Reads of the leads app."""
