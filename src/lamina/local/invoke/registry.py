"""The functions the local Lambda knows, by name; a control plane adds, replaces and removes them.

Listeners hear about every change, so the pools can recycle a function's execution environments
when its code or configuration changes (as Lambda does on UpdateFunctionConfiguration).
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Optional

from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION, LATEST, NAME_PATTERN
from lamina.local.model.service_errors import ServiceError
from lamina.runtime import error_types

Listener = Callable[[str, Optional[FunctionConfig]], None]


def split_function_name(identifier: str) -> tuple[str, Optional[str]]:
    """Name and qualifier from a name, ``name:qualifier``, a partial ARN or a full ARN."""
    parts = identifier.split(":")
    if identifier.startswith("arn:"):
        # arn:aws:lambda:region:account:function:name[:qualifier]
        if len(parts) in (7, 8) and parts[2] == "lambda" and parts[5] == "function":
            return parts[6], parts[7] if len(parts) == 8 else None
        return identifier, None
    if len(parts) in (3, 4) and parts[1] == "function":  # account:function:name[:qualifier]
        return parts[2], parts[3] if len(parts) == 4 else None
    if len(parts) == 2:
        return parts[0], parts[1]
    return identifier, None


class FunctionRegistry:
    """Name → :class:`FunctionConfig`. Not thread-safe: use it from the event loop."""

    def __init__(self, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> None:
        self._functions: dict[str, FunctionConfig] = {}
        self._listeners: list[Listener] = []
        self._aliases: dict[str, str] = {}  # another name Invoke accepts → the function's name
        self.region = region
        self.account = account

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(name, config)`` after each change; ``config`` is None on removal."""
        self._listeners.append(listener)

    def put(self, config: FunctionConfig) -> None:
        """Add a function or replace its configuration (its environments are recycled)."""
        self._functions[config.name] = config
        for listener in self._listeners:
            listener(config.name, config)

    def remove(self, name: str) -> Optional[FunctionConfig]:
        config = self._functions.pop(name, None)
        if config is not None:
            for listener in self._listeners:
                listener(name, None)
        return config

    def get(self, name: str) -> Optional[FunctionConfig]:
        return self._functions.get(name)

    def set_aliases(self, aliases: Mapping[str, str]) -> None:
        """Other names Invoke accepts (a template's logical ids → FunctionNames); replaces the last set."""
        self._aliases = dict(aliases)

    def __iter__(self) -> Iterator[FunctionConfig]:
        return iter(list(self._functions.values()))

    def __len__(self) -> int:
        return len(self._functions)

    def resolve(self, identifier: str, qualifier: Optional[str] = None) -> FunctionConfig:
        """The function an Invoke call names, or Lambda's ``ResourceNotFoundException``."""
        name, embedded = split_function_name(identifier)
        if embedded is not None and qualifier is not None and embedded != qualifier:
            raise ServiceError(error_types.INVALID_PARAMETER_VALUE,
                               "The derived qualifier from the function name does not match the "
                               "specified qualifier.")
        qualifier = qualifier or embedded
        config = self._functions.get(name) if NAME_PATTERN.fullmatch(name) else None
        if config is None and name in self._aliases:
            config = self._functions.get(self._aliases[name])
        if config is None or qualifier not in (None, LATEST, config.version):
            arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
            if qualifier:
                arn += f":{qualifier}"
            raise ServiceError(error_types.RESOURCE_NOT_FOUND, f"Function not found: {arn}")
        return config

    def default(self) -> Optional[FunctionConfig]:
        """The function AWS's emulator path serves: the one named ``function``, else the first."""
        return self._functions.get("function") or next(iter(self._functions.values()), None)
