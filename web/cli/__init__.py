"""The ``kaohe`` command line (its group and registrations in :mod:`web.cli.main`)."""
