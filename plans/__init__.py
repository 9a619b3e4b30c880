"""Service plans: the 30-60 day plan's goals as configuration (catalogue.py, catalogue.json)."""
