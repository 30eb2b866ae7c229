"""Reads of the contracts app."""
