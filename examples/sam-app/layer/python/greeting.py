"""Shared code shipped as a layer: Lambda puts a layer's python/ directory on sys.path."""


def greet(name: str) -> str:
    return f"Hello, {name}!"
