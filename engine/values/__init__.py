"""Plain values every room of the engine shares: exact decimals, canonical bytes, periods, vocabularies.

Nothing here knows about packs or runs; the audit ledger reads ``canonical`` too, so its byte form
is defined once for the whole project.
"""
