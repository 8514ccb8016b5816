"""Execution environments and their pools.

- :mod:`~lamina.local.environments.process`: what every environment is: a runtime process with its
  Runtime API address, init timing, memory and end.
- :mod:`~lamina.local.environments.environment`: one invocation at a time (on-demand Lambda).
- :mod:`~lamina.local.environments.managed`: Lambda Managed Instances, several at once.
- :mod:`~lamina.local.environments.pool`: a function's environments, warm reuse, concurrency, throttling.
- :mod:`~lamina.local.environments.report`: the lines that close an invocation (END, REPORT, …).
- :mod:`~lamina.local.environments.logsink`: where environments' log lines go;
  :mod:`~lamina.local.environments.log_tail`: the 4 KB of an invocation's log that is kept.
- :mod:`~lamina.local.environments.account`: the account's concurrency;
  :mod:`~lamina.local.environments.turns`: waiting one's turn for a slot.
- :mod:`~lamina.local.environments.extensions`: an environment's extensions, their processes and API;
  :mod:`~lamina.local.environments.debugger`: debugpy or pdb on a function's runtime.
"""
