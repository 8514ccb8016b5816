"""Processes and what they see.

- :mod:`~lamina.local.sandbox.process`: starting a runtime process in its own session, dying with
  ``lamina serve``, relaying its output line by line.
- :mod:`~lamina.local.sandbox.variables`: the environment variables Lambda sets.
- :mod:`~lamina.local.sandbox.bubblewrap`: ``/var/task`` and ``/opt`` as Lambda shows them, with
  bubblewrap or by paths.
- :mod:`~lamina.local.sandbox.memory`: an environment's memory, as Lambda meters it.
"""
