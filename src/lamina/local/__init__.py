"""The local Lambda: the Lambda service on one machine, without containers.

How it fits together (each module one job):

- :mod:`~lamina.local.model.function_config` / :mod:`~lamina.local.invoke.registry`: what a function is, and the functions
  the service knows (a control plane puts and removes them; a change recycles the environments).
- :mod:`~lamina.local.lifecycle.single`: an execution environment's life and the Runtime API's rules, as a
  pure state machine; :mod:`~lamina.local.model.function_errors` and :mod:`~lamina.local.model.log_lines`:
  Lambda's own error documents and platform log lines.
- :mod:`~lamina.local.runtime_api.server`: the HTTP server runtimes talk to; :mod:`~lamina.local.environments.environment`:
  one runtime process with its limits; :mod:`~lamina.local.environments.pool`: a function's environments,
  concurrency and throttling.
- :mod:`~lamina.local.invoke.service`: :class:`LocalLambda`, whose :meth:`~LocalLambda.invoke` is the one
  invoke core every front end calls; :mod:`~lamina.local.api.invoke` and :mod:`~lamina.local.api.app`:
  the Invoke API (and AWS's emulator's path) over it; :mod:`~lamina.cli.local`: the CLI.
"""
