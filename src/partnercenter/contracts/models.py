"""Payment contract requests (请款合同): requested by partners at any time, processed by operators (O6)."""
