"""The local Lambda: the Lambda service on one machine, without containers.

Layers, each importing only the ones above it in this list:

- :mod:`~lamina.local.model`: Lambda's nouns and words (function configuration, names and ARNs,
  service and function errors, platform log lines); no I/O.
- :mod:`~lamina.local.lifecycle`: sans-I/O state machines of an execution environment (one invocation
  at a time, managed instances, SnapStart's restore inside the init phase).
- :mod:`~lamina.local.sandbox`: processes and what they see (spawning and output, Lambda's environment
  variables, bubblewrap, memory accounting).
- :mod:`~lamina.local.runtime_api`: the environment-facing HTTP server, trailers, the runtime's side of
  streamed responses.
- :mod:`~lamina.local.environments`: an execution environment of either kind, its pool, REPORT lines.
- :mod:`~lamina.local.invoke`: the invocation service every caller uses, the function registry, the
  caller's side of streaming, the durable Event path (queue, worker, retry and age policy,
  destinations).
- :mod:`~lamina.local.api`: Lambda's HTTP APIs (Invoke, InvokeWithResponseStream and its event-stream
  framing, the control plane).
- :mod:`~lamina.local.frontends`: the HTTP front (API Gateway and function URL events), hot reload.

Beside them: :mod:`~lamina.local.server` (one ``lamina serve``: the APIs around a local Lambda, for the
command and the pytest plugin), :mod:`~lamina.local.database` (the SQLite connection the control plane's
store and the Event queue share) and :mod:`~lamina.local.event_loop` (uvloop where it is installed).
"""
