"""The invocation service."""
