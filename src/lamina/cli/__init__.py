"""The ``lamina`` command, the only package that imports click: it parses arguments, calls the
packages and formats their output.

- :mod:`~lamina.cli.main`: the group, which imports a command's module only when it runs.
- :mod:`~lamina.cli.local`: ``serve`` and ``invoke``; :mod:`~lamina.cli.event`: ``event``;
  :mod:`~lamina.cli.build`: ``build``, ``layer build`` and ``check``; :mod:`~lamina.cli.deploy`: ``deploy``.
- :mod:`~lamina.cli.errors`: the one table from lamina's exceptions to exit statuses and messages.
- :mod:`~lamina.cli.options`: option values several commands read alike (``--env``);
  :mod:`~lamina.cli.display`: the live lines and upload bars of build and deploy.
"""
