"""Kaohe's pure rules engine: dataclasses in, results out. The only package that imports durable."""
