"""Sans-I/O state machines of an execution environment: every Runtime API rule, testable without sockets.

- :mod:`~lamina.local.lifecycle.states`: the shared vocabulary (states, invocations, replies, outcomes,
  ``/response`` and ``/error``).
- :mod:`~lamina.local.lifecycle.single`: one invocation at a time (on-demand Lambda), with SnapStart's
  snapshot and restore as part of its init phase.
- :mod:`~lamina.local.lifecycle.managed`: Lambda Managed Instances, several invocations at once.
- :mod:`~lamina.local.lifecycle.snapstart`: the restore's own bookkeeping.
- :mod:`~lamina.local.lifecycle.extensions`: the environment's extensions (registration, events,
  shutdown); :mod:`~lamina.local.lifecycle.telemetry`: Telemetry API subscriptions and buffers.
"""
