"""C2SP signed notes with Ed25519 keys: sign a text, open a signed one against trusted keys.

The formats are public ones so that anyone can check Kaohe's checkpoints with their own code or
with existing transparency-log tools: the note (https://c2sp.org/signed-note), and the key
encodings of Go's ``golang.org/x/mod/sumdb/note`` — a verifier key ``<name>+<key id, 8 hex>+
<base64(0x01 || public key)>`` and a signer key ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 ||
seed)>``. ``docs/audit-format.md`` section 6 gives them byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ED25519 = b"\x01"
"""signed-note's signature type byte for Ed25519."""
SIGNATURE_PREFIX = "\u2014 "
"""A signature line starts with an em dash and a space."""
MAX_SIGNATURES = 16
_BAD_NAME = re.compile(r"[\s+]")


class NoteError(ValueError):
    """A key or a note that cannot be used, with what is wrong with it."""


def check_name(name: str) -> str:
    if not name or _BAD_NAME.search(name):
        raise NoteError(f"key name {name!r} must be non-empty, with no space and no '+' "
                        "(a schema-less URL such as kaohe.example.gov.cn/ledger)")
    return name


def key_id(name: str, public: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"{what} is not base64: {exc}") from exc


@dataclass(frozen=True)
class VerifierKey:
    """A public key under its name: what a reader trusts to check checkpoints."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def text(self) -> str:
        """``<name>+<key id hex>+<base64(0x01 || public key)>``."""
        data = base64.b64encode(ED25519 + self.public).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """An Ed25519 private key under its name; never stored in the database."""

    name: str
    seed: bytes

    @property
    def verifier(self) -> VerifierKey:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return VerifierKey(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def text(self) -> str:
        """``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>``."""
        data = base64.b64encode(ED25519 + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{data}"

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate(name: str) -> SignerKey:
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return SignerKey(check_name(name), seed)


def _split_key(text: str, parts: int, what: str) -> list[str]:
    """The fields before the key data (which is base64, so may hold '+' itself)."""
    fields = text.strip().split("+", parts - 1)
    if len(fields) != parts:
        raise NoteError(f"{what} must have {parts} parts joined by '+', not {len(fields)}")
    return fields


def _key_data(name: str, hex_id: str, data: str, what: str) -> bytes:
    check_name(name)
    raw = _b64decode(data, what)
    if len(raw) != 33 or raw[:1] != ED25519:
        raise NoteError(f"{what} is not an Ed25519 key (type byte 0x01 and 32 bytes)")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"{what}'s key id {hex_id!r} is not 8 lowercase hex digits")
    return raw[1:]


def parse_verifier(text: str) -> VerifierKey:
    """A verifier key line; its key id must be the one its name and public key give."""
    name, hex_id, data = _split_key(text, 3, "a verifier key")
    key = VerifierKey(name, _key_data(name, hex_id, data, "the verifier key"))
    if key.key_id.hex() != hex_id:
        raise NoteError(f"verifier key {name}: key id {hex_id} is not {key.key_id.hex()}, "
                        "the one its name and public key give")
    return key


def parse_signer(text: str) -> SignerKey:
    """A signer key file's content (``PRIVATE+KEY+…``)."""
    fields = _split_key(text, 5, "a signer key")
    if fields[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("a signer key starts with PRIVATE+KEY+")
    name, hex_id, data = fields[2:]
    key = SignerKey(name, _key_data(name, hex_id, data, "the signer key"))
    if key.verifier.key_id.hex() != hex_id:
        raise NoteError(f"signer key {name}: key id {hex_id} does not match its key")
    return key


def sign(text: str, key: SignerKey) -> str:
    """The signed note: ``text`` (ending in LF), an empty line, one signature line."""
    _check_text(text)
    signature = key.verifier.key_id + key.sign(text.encode("utf-8"))
    return f"{text}\n{SIGNATURE_PREFIX}{key.name} {base64.b64encode(signature).decode('ascii')}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note holds no control character but newline")


@dataclass(frozen=True)
class Opened:
    """A note whose signature by a trusted key verified: its text and that key."""

    text: str
    key: VerifierKey


def open_note(note: str, trusted: Sequence[VerifierKey]) -> Opened:
    """The note's text once a trusted key's signature on it verifies; :class:`NoteError` otherwise.

    As signed-note says: signatures by unknown keys are ignored, a failing signature by a known
    key rejects the note, and a note with no verified signature by a known key is rejected.
    """
    _check_text(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("not a signed note: no empty line before the signatures")
    text, lines = note[:cut + 1], note[cut + 2:].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a signed note has 1 to {MAX_SIGNATURES} signature lines, not {len(lines)}")
    known = {(k.name, k.key_id): k for k in trusted}
    found, verified = [], None
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
            raise NoteError(f"{line!r} is not a signature line (— <key name> <base64>)")
        name, data = line[len(SIGNATURE_PREFIX):].split(" ")
        raw = _b64decode(data, f"the signature of {name}")
        if len(raw) < 5:
            raise NoteError(f"the signature of {name} is too short")
        found.append(f"{name} {raw[:4].hex()}")
        key = known.get((name, raw[:4]))
        if key is None:
            continue
        if not key.verifies(text.encode("utf-8"), raw[4:]):
            raise NoteError(f"the signature of {name} (key id {raw[:4].hex()}) does not verify: "
                            "the note was changed or forged")
        verified = key
    if verified is None:
        raise NoteError(f"signed by no trusted key: the note names {', '.join(found)}; trusted "
                        f"are {', '.join(f'{k.name} {k.key_id.hex()}' for k in trusted) or 'none'}")
    return Opened(text, verified)
