"""Testing Lambda functions with pytest: the local Lambda as a session fixture.

Installed with lamina as the pytest plugin ``lamina`` (entry point ``pytest11``,
:mod:`lamina.testing.pytest_plugin`); nothing to enable. A test suite at the project's root gets:

- ``lamina_serve`` (session scope, one per pytest-xdist worker): the project at pytest's rootdir —
  ``[tool.lamina.functions]`` of ``pyproject.toml``, ``lamina.toml``, or the SAM/CDK template of the
  ``lamina_template`` ini option / ``--lamina-template`` — served on 127.0.0.1 at free ports. It has
  ``endpoint_url``, ``http_url`` (when the project has HTTP routes), ``client()``, ``invoke(...)`` and
  ``override(name, env=..., **settings)``; it stops every process it started at the session's end.
- ``lambda_client``: a boto3 Lambda client of it.
- ``invoke(name, event, **options)``: one invocation's :class:`InvokeResult` — ``payload`` (parsed
  JSON), ``function_error``, ``error_type`` and ``logs`` (its log lines, init included on a cold
  start).
- ``@pytest.mark.lamina_config("name", env={...}, timeout=1)``: serve that function so for one test;
  other functions keep their warm environments.
- A failed test's report shows the local Lambda's lines logged during it ("Captured lamina log call").

Modules: :mod:`~lamina.testing.project` (what is served), :mod:`~lamina.testing.server` (the server
thread, the client, invoke and overrides), :mod:`~lamina.testing.recording` (the log lines kept),
:mod:`~lamina.testing.pytest_plugin` (fixtures, marker, report section).
"""

from lamina.testing.project import NothingToServe
from lamina.testing.server import InvokeResult, LambdaTestServer, PortInUse

__all__ = ["InvokeResult", "LambdaTestServer", "NothingToServe", "PortInUse"]
