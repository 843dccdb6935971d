"""Files in and out of the web app: appeal evidence (:mod:`~web.files.evidence`), uploaded import
workbooks and CSV files (:mod:`~web.files.imports`) and a run's audit export bundle
(:mod:`~web.files.bundles`)."""
