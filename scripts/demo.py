"""The main job: serve examples/hello with lamina's runtime and invoke it, as a user would.

Run through ``python3 scripts/dev.py demo`` (which sets up .venv first).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    event = json.dumps({"name": "lamina"})
    cmd = [sys.executable, "-m", "lamina.cli", "invoke", "app.handler", "--code",
           str(ROOT / "examples" / "hello"), "--event", event]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
