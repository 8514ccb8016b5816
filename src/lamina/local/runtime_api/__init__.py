"""The Runtime API: the HTTP side execution environments talk to (``AWS_LAMBDA_RUNTIME_API``).

- :mod:`~lamina.local.runtime_api.server`: one server, one listening socket per environment, routing to
  the environment's handler (:class:`RuntimeApiHandler`).
- :mod:`~lamina.local.runtime_api.http1`: the lean HTTP/1.1 server it runs on (httptools): pipelined
  requests in order, bodies with back-pressure, trailers, large heads, connection bounds.
- :mod:`~lamina.local.runtime_api.bodies`: request bodies read under a limit.
- :mod:`~lamina.local.runtime_api.relay` and :mod:`~lamina.local.runtime_api.streaming`: a streamed
  response, from the runtime into the caller's relay.
- :mod:`~lamina.local.runtime_api.peers`: which process is on the other end of a connection (each
  environment's API answers only its own); :mod:`~lamina.local.runtime_api.connection_limits`: header
  timeouts and connection counts for every server of ``lamina serve`` (the aiohttp servers apply them
  through :mod:`lamina.local.api.limited_site`).
- :mod:`~lamina.local.runtime_api.extensions` and :mod:`~lamina.local.runtime_api.telemetry`: the
  Extensions API and Telemetry API endpoints, and delivery to subscribers.
"""
