"""Kaohe's outer layer: configuration, logging, the CLI and (later) the Flask app.

The only package that reads the environment and the only one that imports Flask.
"""
