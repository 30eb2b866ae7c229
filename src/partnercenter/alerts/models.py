"""Customer alerts raised by the worker from rules, viewed and handled (O3)."""
