"""What a function's Python is and can import (issue 13: its runtime, only its packages)."""

import importlib.util
import sys


def report(event, context):
    return {"version": "{}.{}".format(*sys.version_info[:2]), "path": sys.path,
            "found": {name: importlib.util.find_spec(name) is not None for name in event.get("modules", [])}}
