"""A function that forgot to bundle aiohttp (installed beside lamina, not in the function's code)."""

import aiohttp  # noqa: F401


def handler(event, context):
    return "imported"
