"""The errors of deploying and invoking on AWS (or any Lambda-compatible endpoint).

A module with no imports, so the command line names them without loading boto3. Each message is one
line for the user; a failed deploy's says which version of the function is running.
"""

from __future__ import annotations

__all__ = ["DeployError", "DeploySettingsError", "RemoteInvokeError"]


class DeployError(Exception):
    """A deploy stopped; the message says what failed and which version of the function is running."""


class DeploySettingsError(DeployError):
    """The deploy cannot start: a setting is missing or two of them contradict each other."""


class RemoteInvokeError(Exception):
    """The invocation did not run: Lambda refused it (not found, throttled…) or could not be reached."""
