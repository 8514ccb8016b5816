"""Front ends of the local Lambda: the ways functions are called besides the Invoke API.

Each module has one job. The event formats and result mappings (``http_events``, ``http_results``,
``routes``, ``sample_events``, ``sam``) are pure, synchronously testable code; ``http_server``,
``async_worker`` and ``reload`` only move bytes and wake up on I/O, and call the local Lambda through
an injected :data:`~lamina.local.invoke.invoker.Invoker` so they can run against a fake.
"""
