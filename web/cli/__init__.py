"""The ``kaohe`` command line: the group and every command's registration in :mod:`web.cli.main`,
what the commands share in :mod:`web.cli.support`, and one module per family of commands."""
