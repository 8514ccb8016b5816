"""The invocation service: how every caller runs a function.

- :mod:`~lamina.local.invoke.service`: :class:`LocalLambda`, the one invoke core, and its Event path.
- :mod:`~lamina.local.invoke.registry`: the functions it knows, by name, qualifier or ARN.
- :mod:`~lamina.local.invoke.streaming`: the caller's side of a streamed response.
- :mod:`~lamina.local.invoke.invoker`: the call front ends make, as a type.
- Event invocations: :mod:`~lamina.local.invoke.event_queue` (durable SQLite queue),
  :mod:`~lamina.local.invoke.event_worker` (pollers, attempts), :mod:`~lamina.local.invoke.event_policy`
  (retries and event age, pure), :mod:`~lamina.local.invoke.destinations` (on-success/on-failure records).
"""
