"""The append-only, hash-chained audit ledger: record events, bind runs, verify the whole chain.

Pure of Flask: it takes a Session, never commits, and depends only on ``store`` and
``engine.values.canonical``. The byte formats are specified in ``docs/audit-format.md``.
"""

from audit.chain import FORMAT, GENESIS_HASH, event_hash, hash_input, record
from audit.merkle import RunRoots, merkle_root, record_run, run_roots
from audit.verifier import Break, VerifyReport, verify

__all__ = [
    "FORMAT",
    "GENESIS_HASH",
    "Break",
    "RunRoots",
    "VerifyReport",
    "event_hash",
    "hash_input",
    "merkle_root",
    "record",
    "record_run",
    "run_roots",
    "verify",
]
