"""Lambda's nouns and words, free of I/O (no aiohttp, no processes).

- :mod:`~lamina.local.model.function_config`: :class:`FunctionConfig`, what a local function is.
- :mod:`~lamina.local.model.names`: function and layer names and ARNs (the one ``FunctionName`` parser,
  the ARN builders) and the default account id and region.
- :mod:`~lamina.local.model.service_errors`: Lambda's service exceptions, AWS's names and messages.
- :mod:`~lamina.local.model.function_errors`: the error documents Lambda writes for failed invocations.
- :mod:`~lamina.local.model.log_lines`: INIT_START, RESTORE_*, START, END, REPORT as Lambda prints them.
- :mod:`~lamina.local.model.payloads`: JSON bodies as Lambda reads them (one bound on nesting).
- :mod:`~lamina.local.model.telemetry_events`: the Telemetry API's events.
"""
