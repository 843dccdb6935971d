"""Kaohe's service layer: imports, runs, cases. Functions take a Session and never commit."""

# The seal's backstop (a before_flush listener) is installed whenever the services are imported.
from workflows import freeze as freeze
