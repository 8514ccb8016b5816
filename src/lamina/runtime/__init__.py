"""lamina's Lambda runtime: runs inside the execution environment, standard library only, Python 3.9+.

Start it with ``python -m lamina.runtime HANDLER`` (or the ``bootstrap`` script next to this file).
Nothing is imported here: every import on the way to the first invocation is cold-start time.

- :mod:`~lamina.runtime.__main__`: the entry point; :mod:`~lamina.runtime.loop`: the invoke loop;
  :mod:`~lamina.runtime.concurrency`: several invocations at once (``AWS_LAMBDA_MAX_CONCURRENCY``).
- :mod:`~lamina.runtime.api_client`: the Runtime API client; :mod:`~lamina.runtime.protocol`: its
  paths, headers and limits (shared with the tooling).
- :mod:`~lamina.runtime.handler`: loading ``_HANDLER``; :mod:`~lamina.runtime.context`: the context
  object; :mod:`~lamina.runtime.marshalling`, :mod:`~lamina.runtime.fastjson` and
  :mod:`~lamina.runtime.json_compat`: events in and results out, as awslambdaric reads and writes them.
- :mod:`~lamina.runtime.errors` and :mod:`~lamina.runtime.error_types`: error documents and Lambda's
  error type names.
- :mod:`~lamina.runtime.logs`, :mod:`~lamina.runtime.logging_setup` and
  :mod:`~lamina.runtime.log_context`: stdout/stderr and ``logging`` as Lambda formats them.
- :mod:`~lamina.runtime.streaming`: response streaming; :mod:`~lamina.runtime.snapstart`: SnapStart's
  hooks; :mod:`~lamina.runtime.bootstrap_compat`: awslambdaric's ``bootstrap`` names for integrations
  that patch them; :mod:`~lamina.runtime.terminal_debugger`: pdb on ``lamina invoke``'s terminal.
"""
