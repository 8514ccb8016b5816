"""What ``sam local`` users pass beside the template: ``--parameter-overrides`` and an ``--env-vars`` file.

``--parameter-overrides`` takes SAM's forms, ``Key=Value Key2='a b'`` and
``ParameterKey=Key,ParameterValue=Value``. The ``--env-vars`` file is SAM's JSON: a ``Parameters``
object for every function, and objects keyed by a function's logical id (``Child/Function`` in a nested
application) or its FunctionName; as in SAM, only variables the template declares for the function are
set from it (the others are warned about).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Dict, List

from lamina.project.errors import TemplateError

__all__ = ["EnvVars", "load_env_vars", "parse_parameter_overrides"]


def parse_parameter_overrides(values: Iterable[str]) -> Dict[str, str]:
    """``["A=1 B='two words'", "ParameterKey=C,ParameterValue=3"]`` → ``{"A": "1", "B": …, "C": "3"}``."""
    parsed: Dict[str, str] = {}
    for value in values:
        try:
            tokens = shlex.split(value)
        except ValueError as exc:
            raise TemplateError(f"--parameter-overrides {value!r}: {exc}") from None
        for token in tokens:
            if token.startswith("ParameterKey="):
                fields = dict(part.split("=", 1) for part in token.split(",") if "=" in part)
                if "ParameterValue" not in fields:
                    raise TemplateError(f"--parameter-overrides {token!r}: no ParameterValue")
                parsed[fields["ParameterKey"]] = fields["ParameterValue"]
            elif "=" in token:
                key, _, val = token.partition("=")
                parsed[key] = val
            else:
                raise TemplateError(f"--parameter-overrides {token!r}: expected Key=Value")
    return parsed


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class EnvVars:
    """An ``--env-vars`` file: the ``Parameters`` for all functions, then per-function objects."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.shared = {str(k): _string(v) for k, v in (document.get("Parameters") or {}).items()}
        self.functions = {str(name): {str(k): _string(v) for k, v in values.items()}
                          for name, values in document.items()
                          if name != "Parameters" and isinstance(values, Mapping)}

    def apply(self, declared: Mapping[str, str], ids: Iterable[str], warnings: List[str]) -> Dict[str, str]:
        """``declared`` (the template's variables) with the file's values for the function ``ids``."""
        result = dict(declared)
        names = list(ids)
        values = dict(self.shared)
        for name in names:
            values.update(self.functions.get(name, {}))
        own = {k for name in names for k in self.functions.get(name, {})}
        for key, value in values.items():
            if key in result:
                result[key] = value
            elif key in own:
                warnings.append(f"{names[0]}: --env-vars sets {key}, which the template does not declare "
                                "for it; not set (as in sam local)")
        return result


def load_env_vars(path: Path) -> EnvVars:
    """Read an ``--env-vars`` JSON file; raises TemplateError."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TemplateError(f"cannot read --env-vars file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TemplateError(f"--env-vars file {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"--env-vars file {path} must hold a JSON object")
    return EnvVars(document)
