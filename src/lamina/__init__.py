"""lamina: a fast custom runtime for AWS Lambda in Python, with a local Lambda, builds, layers and deploys.

Packages (see the README's "Architecture"): :mod:`lamina.runtime` (inside the execution environment,
standard library only), :mod:`lamina.local` (the local Lambda), :mod:`lamina.project` (project files and
templates), :mod:`lamina.artifacts` (bundles, layers, checks), :mod:`lamina.deploy` (boto3 deploys),
:mod:`lamina.testing` (the pytest plugin) and :mod:`lamina.cli` (the ``lamina`` command; ``python -m
lamina`` runs it through :mod:`lamina.__main__`).

This top-level module stays tiny: user functions import ``lamina`` (for ``lamina.streaming``) inside the
execution environment, where every import costs cold-start time.
"""

__version__ = "0.1.0"

__all__ = ["ResponseStream", "StreamingResponse", "__version__", "streaming"]

_STREAMING_NAMES = ("ResponseStream", "StreamingResponse", "streaming")


def __getattr__(name: str) -> object:
    # Loaded on first use, so a function that does not stream pays nothing for it.
    if name in _STREAMING_NAMES:
        from lamina.runtime import streaming as _streaming

        return getattr(_streaming, name)
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")
