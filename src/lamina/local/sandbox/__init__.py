"""Processes and what they see."""
