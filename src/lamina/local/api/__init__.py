"""Lambda's HTTP APIs, as boto3 and the AWS CLI speak them.

- :mod:`~lamina.local.api.app`: the ``lamina serve`` application around a :class:`LocalLambda`.
- :mod:`~lamina.local.api.invoke`: Invoke, and AWS's emulator's fixed path.
- :mod:`~lamina.local.api.invoke_stream`: InvokeWithResponseStream;
  :mod:`~lamina.local.api.event_stream`: its binary event-stream framing.
- :mod:`~lamina.local.api.responses`: service exceptions on the wire.
- :mod:`~lamina.local.api.access` and :mod:`~lamina.local.api.middleware`: only requests a web page
  cannot make (Host, Origin, SigV4).
- :mod:`~lamina.local.api.limited_site`: the connection bounds (header timeout, count) on aiohttp's
  servers, this API's and the HTTP front's.
- :mod:`~lamina.local.api.control_plane`: functions and layers (CreateFunction, GetFunction, …).
"""
