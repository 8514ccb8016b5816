"""Processes and what they see.

- :mod:`~lamina.local.sandbox.process`: starting a runtime process in its own session, dying with
  ``lamina serve``, relaying its output line by line.
- :mod:`~lamina.local.sandbox.variables`: the environment variables Lambda sets.
- :mod:`~lamina.local.sandbox.bubblewrap`: ``/var/task`` and ``/opt`` as Lambda shows them, with
  bubblewrap or by paths.
- :mod:`~lamina.local.sandbox.memory`: an environment's memory, as Lambda meters it.
- :mod:`~lamina.local.sandbox.containment`: every process of an environment ends with it and with serve
  (cgroup v2, else a mark; a guardian after ``kill -9``).
- :mod:`~lamina.local.sandbox.python_runtime`: a ``python3.X`` function on that Python with only its
  packages; :mod:`~lamina.local.sandbox.exec_wrapper`: ``AWS_LAMBDA_EXEC_WRAPPER``;
  :mod:`~lamina.local.sandbox.aws_config`: region and credentials as botocore resolves them.
"""
