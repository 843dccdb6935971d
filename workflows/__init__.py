"""Kaohe's service layer: imports, runs, cases. Functions take a Session and never commit."""
