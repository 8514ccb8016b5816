"""The one error type of lamina's build tooling.

Every failure a user can cause (a missing directory, a requirement with no wheel for Lambda, an archive
that is not an interpreter, a bundle over Lambda's quotas) is a ``BuildError`` whose message is one line
that says what went wrong and what to do, so the CLI prints it as is and exits non-zero.
"""

from __future__ import annotations


class BuildError(Exception):
    """A build, layer or check step that cannot go on; ``str(err)`` is the one-line message to show."""
