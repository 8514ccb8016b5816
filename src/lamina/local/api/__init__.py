"""Lambda's HTTP APIs."""
