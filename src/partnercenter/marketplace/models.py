"""Marketplace: product links carrying the partner code, attribution of orders, revenue-sharing statements (O5)."""
