"""Tests of the local Lambda (lamina serve / lamina invoke)."""
