"""Importing schemes, targets, progress and events from .xlsx workbooks and CSV files.

The format is defined in ``sheets.py`` and documented in docs/import-format.md. A file is
validated as a whole first; only a file without a single error is written.
"""

from workflows.imports.issues import ImportIssue, ImportRejected
from workflows.imports.service import import_file
from workflows.imports.summary import ImportSummary, KindCounts

__all__ = ["ImportIssue", "ImportRejected", "ImportSummary", "KindCounts", "import_file"]
