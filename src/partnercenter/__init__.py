"""Partner Center: the portal for cloud channel sales."""
