"""The append-only, hash-chained audit ledger: record events, bind runs and every stored row's
state, verify the whole chain and every row against it.

Pure of Flask: it takes a Session, never commits, and depends only on ``store`` and
``engine.values.canonical``. The byte formats are specified in ``docs/audit-format.md``.
"""

from audit.bindings import adopt, unproven
from audit.chain import FORMAT, GENESIS_HASH, event_hash, hash_input, record
from audit.merkle import RunRoots, merkle_root, record_run, run_roots
from audit.verifier import Break, VerifyReport, check_rows, verify

__all__ = [
    "FORMAT",
    "GENESIS_HASH",
    "Break",
    "RunRoots",
    "VerifyReport",
    "adopt",
    "check_rows",
    "event_hash",
    "hash_input",
    "merkle_root",
    "record",
    "record_run",
    "run_roots",
    "unproven",
    "verify",
]
