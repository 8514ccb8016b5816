"""lamina: a fast custom runtime for AWS Lambda in Python, with a local Lambda, builds, layers and deploys.

This top-level module stays tiny: user functions import ``lamina`` (for ``lamina.streaming``) inside the
execution environment, where every import costs cold-start time.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
