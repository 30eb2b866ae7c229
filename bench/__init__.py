"""Benchmarks: ``make bench`` runs ``python -m bench`` (see bench/__main__.py)."""
