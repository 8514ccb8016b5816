"""Execution environments and their pools."""
