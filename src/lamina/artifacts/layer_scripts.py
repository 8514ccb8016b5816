"""The shell scripts at the root of lamina's layer.

Lambda unpacks layers into ``/opt``. The scripts find the layer through their own directory instead of
hard-coding ``/opt``, so the same layer runs when unpacked anywhere (tests, containers, RIE), and fall
back to ``/opt`` only if that lookup fails. The function's code (``$LAMBDA_TASK_ROOT``) comes first on
``PYTHONPATH``, then the layer's ``python/`` directory, as on Lambda's managed Python runtimes.
"""

from __future__ import annotations


def _locate(site_packages: str = "") -> str:
    """Shell lines that find the layer (``$here``) and put the function and the layer on PYTHONPATH."""
    extra = f"$here/{site_packages}:" if site_packages else ""
    return f"""\
here=$(CDPATH= cd -- "$(dirname -- "$0")" 2>/dev/null && pwd) || here=/opt
[ -d "$here/python/lamina/runtime" ] || here=/opt
export PYTHONPATH="${{LAMBDA_TASK_ROOT:+$LAMBDA_TASK_ROOT:}}{extra}$here/python${{PYTHONPATH:+:$PYTHONPATH}}"
"""


_LOCATE = _locate()


def bootstrap_cpython(version: str) -> str:
    """provided.al2023 / provided.al2 with the layer's own CPython (the python-build-standalone form).

    Dependency layers built the usual way put packages in ``python/lib/python3.X/site-packages``;
    managed runtimes have that on the path and provided.* does not, so this bootstrap adds it for the
    version it ships.
    """
    return f"""\
#!/bin/sh
# lamina runtime (provided.al2023, provided.al2): runs the function on this layer's CPython {version}.
{_locate(f"python/lib/python{version}/site-packages")}export PATH="$here/cpython/bin:$PATH"
exec "$here/cpython/bin/python3" -m lamina.runtime "${{_HANDLER:-$1}}"
"""

# provided.* when some other layer or image supplies python3 (the managed-runtime form).
BOOTSTRAP_SYSTEM_PYTHON = f"""\
#!/bin/sh
# lamina runtime (provided.*): runs the function on the python3 found on PATH.
{_LOCATE}if ! command -v python3 >/dev/null 2>&1; then
    echo "lamina: no python3 on this runtime: use the layer built with --python-dist" >&2
    exit 127
fi
exec python3 -m lamina.runtime "${{_HANDLER:-$1}}"
"""

# Managed python3.x runtimes, as AWS_LAMBDA_EXEC_WRAPPER=/opt/lamina. Lambda runs it with the original
# command line, e.g. `/opt/lamina /var/lang/bin/python3.12 /var/runtime/bootstrap.py`: keep the
# interpreter ($1), drop AWS's runtime client, start lamina's.
EXEC_WRAPPER = f"""\
#!/bin/sh
# lamina exec wrapper (python3.x managed runtimes): AWS_LAMBDA_EXEC_WRAPPER=/opt/lamina
{_LOCATE}interpreter=${{1:-python3}}
exec "$interpreter" -m lamina.runtime "$_HANDLER"
"""
