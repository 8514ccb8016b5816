"""Front ends of the local Lambda: the ways functions are called besides Lambda's own APIs.

- :mod:`~lamina.local.frontends.http_server`: the HTTP front (``lamina serve --http``), answering as API
  Gateway or a function URL; :mod:`~lamina.local.frontends.http_events` and
  :mod:`~lamina.local.frontends.http_results` (events in, results out, pure) and
  :mod:`~lamina.local.frontends.routes` (route keys and matching).
- :mod:`~lamina.local.frontends.reload`: hot reload of code directories.
- :mod:`~lamina.local.frontends.options` and :mod:`~lamina.local.frontends.serve`: what ``lamina
  serve`` asks of the front ends, and wiring them into its application.
- :mod:`~lamina.local.frontends.sample_events`: sample events for ``lamina event``, built by the HTTP
  front's own event builders (plus SQS, S3, SNS, EventBridge, DynamoDB).

They call the local Lambda through an injected :data:`~lamina.local.invoke.invoker.Invoker`, so each
runs against a fake in tests.
"""
