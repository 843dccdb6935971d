"""The app's side of the ledger's checkpoints: its signing key bound to every session (so a
publication or seal through the pages or the API signs one), and the verifier keys it publishes."""

from __future__ import annotations

from flask import Flask, current_app

from audit.checkpoint import signer_info
from audit.note import VerifierKey
from web.config import Settings
from web.extensions import db
from web.signing import signing_key, verifier_keys

EXTENSION = "kaohe.verifier_keys"


def ledger_signing(app: Flask, settings: Settings) -> None:
    """Load the key when the app is made (a bad or missing key stops it starting), bind it to every
    session of the app, and keep the verifier keys the pages and the API publish."""
    key = signing_key(settings)
    db.session_info(app, signer_info(key))
    app.extensions[EXTENSION] = verifier_keys(settings)


def published_keys(app: Flask | None = None) -> list[VerifierKey]:
    """The current key's verifier first, then the earlier keys still published."""
    keys: list[VerifierKey] = (app or current_app).extensions[EXTENSION]
    return keys
