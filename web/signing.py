"""The instance's checkpoint signing key and the verifier keys it publishes, read from the files the
configuration names (never from the database): for the app, the CLI and the pages alike.

Outside production an instance without ``KAOHE_SIGNING_KEY`` signs with
``<instance>/ledger-signing.key``, made on first use (owner-only) under the name
:data:`DEVELOPMENT_NAME`; production refuses to start without a key of its own (``web.config``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from audit.note import NoteError, SignerKey, VerifierKey, generate, parse_signer, parse_verifier
from web.config import ConfigError, Settings

DEVELOPMENT_KEY_FILE = "ledger-signing.key"
DEVELOPMENT_NAME = "kaohe.development/ledger"


def write_key(path: Path, key: SignerKey) -> None:
    """Write a signer key file readable by its owner only; never over an existing file. Written
    beside it first and linked into place whole, so no reader ever sees half a key."""
    fd, tmp = tempfile.mkstemp(prefix=".ledger-key-", dir=path.parent)  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.text + "\n")
        os.link(tmp, path)  # FileExistsError if there is one
    finally:
        os.unlink(tmp)


def signing_key(settings: Settings) -> SignerKey:
    path = settings.signing_key_path
    if path is None:
        if settings.is_production:
            raise ConfigError("KAOHE_SIGNING_KEY is required in production")
        path = settings.instance_path / DEVELOPMENT_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                write_key(path, generate(DEVELOPMENT_NAME))
    try:
        return parse_signer(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise ConfigError(f"the ledger signing key {path} cannot be used: {exc}") from exc


def verifier_keys(settings: Settings) -> list[VerifierKey]:
    """The current key's verifier, then the published earlier ones (KAOHE_VERIFIER_KEYS: one
    verifier key a line; empty lines and lines starting with # are skipped)."""
    keys = [signing_key(settings).verifier]
    path = settings.verifier_keys_path
    if path is None:
        return keys
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the verifier keys file {path} cannot be read: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                key = parse_verifier(line)
            except NoteError as exc:
                raise ConfigError(f"{path} line {n}: {exc}") from exc
            if key not in keys:
                keys.append(key)
    return keys

