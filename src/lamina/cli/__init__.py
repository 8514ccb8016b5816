"""The ``lamina`` command: the only package that imports click (see :mod:`lamina.cli.main`)."""
