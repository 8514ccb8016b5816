"""The environment-facing Runtime API server."""
