"""The functions the local Lambda knows, by name; a control plane adds, replaces and removes them.

Each function has its ``$LATEST`` configuration and may have published versions (immutable, each its
own :class:`FunctionConfig` with ``version`` set) and aliases (a version, optionally weighted towards
a second one, as ``RoutingConfig.AdditionalVersionWeights``). :meth:`FunctionRegistry.resolve` turns
what an Invoke call names into the configuration that runs. Listeners hear about every change, keyed
by :func:`pool_key`, so the pools can recycle a function's execution environments when its code or
configuration changes (as Lambda does on UpdateFunctionConfiguration).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

from lamina.local.model import names
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION, LATEST
from lamina.local.model.service_errors import function_not_found

Listener = Callable[[str, Optional[FunctionConfig]], None]


def pool_key(config: FunctionConfig) -> str:
    """What identifies the environments of one configuration: the name, and the version if published."""
    return config.name if config.version == LATEST else f"{config.name}:{config.version}"


@dataclass(frozen=True)
class AliasRoute:
    """An alias: its version, and the additional versions' weights (0.0 to 1.0 each)."""

    version: str
    weights: Mapping[str, float] = field(default_factory=dict)

    def pick(self, draw: float) -> str:
        """The version one invocation runs, for a uniform ``draw`` in [0, 1)."""
        for version, weight in self.weights.items():
            if draw < weight:
                return version
            draw -= weight
        return self.version


class FunctionRegistry:
    """Name → :class:`FunctionConfig`, its versions and aliases. Not thread-safe: use it from the loop."""

    def __init__(self, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 draw: Callable[[], float] = random.random) -> None:
        self._functions: dict[str, FunctionConfig] = {}
        self._versions: dict[str, dict[str, FunctionConfig]] = {}
        self._aliases: dict[str, dict[str, AliasRoute]] = {}
        self._other_names: dict[str, str] = {}  # another name Invoke accepts → the function's name
        self._listeners: list[Listener] = []
        self._draw = draw
        self.region = region
        self.account = account

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(key, config)`` after each change (:func:`pool_key`); None on removal."""
        self._listeners.append(listener)

    def _notify(self, key: str, config: Optional[FunctionConfig]) -> None:
        for listener in self._listeners:
            listener(key, config)

    def put(self, config: FunctionConfig) -> None:
        """Add a function or replace its configuration (its environments are recycled)."""
        self._functions[config.name] = config
        self._notify(config.name, config)

    def set_aliases(self, aliases: Mapping[str, str]) -> None:
        """Other names Invoke accepts (a template's logical ids → FunctionNames); replaces the last set."""
        self._other_names = dict(aliases)

    def publish(self, name: str, versions: Mapping[str, FunctionConfig],
                aliases: Mapping[str, AliasRoute]) -> None:
        """Set the published versions and aliases of ``name``; versions gone or changed are recycled."""
        old = self._versions.get(name, {})
        self._versions[name] = dict(versions)
        self._aliases[name] = dict(aliases)
        for version, config in old.items():
            if versions.get(version) != config:
                self._notify(f"{name}:{version}", None)

    def remove(self, name: str) -> Optional[FunctionConfig]:
        config = self._functions.pop(name, None)
        self.publish(name, {}, {})
        self._versions.pop(name, None)
        self._aliases.pop(name, None)
        if config is not None:
            self._notify(name, None)
        return config

    def get(self, name: str) -> Optional[FunctionConfig]:
        return self._functions.get(name)

    def __iter__(self) -> Iterator[FunctionConfig]:
        return iter(list(self._functions.values()))

    def __len__(self) -> int:
        return len(self._functions)

    def resolve(self, identifier: str, qualifier: Optional[str] = None) -> FunctionConfig:
        """The configuration an Invoke call runs, or Lambda's ``ResourceNotFoundException``.

        ``identifier`` is any form of FunctionName (``names.parse_function_reference``):
        a version runs its snapshot, an alias one of its versions by weight.
        """
        reference = _reference(identifier)
        qualifier = names.resolve_qualifier(reference, qualifier)
        config = self._find(reference.name, qualifier)
        if config is None:
            arn = names.function_arn(self.region, reference.name, self.account)
            raise function_not_found(f"{arn}:{qualifier}" if qualifier else arn)
        return config

    def _find(self, name: str, qualifier: Optional[str]) -> Optional[FunctionConfig]:
        if name not in self._functions and name in self._other_names:
            name = self._other_names[name]
        latest = self._functions.get(name)
        if latest is None or qualifier in (None, LATEST, latest.version):
            return latest
        versions = self._versions.get(name, {})
        alias = self._aliases.get(name, {}).get(qualifier)
        if alias is not None:
            qualifier = alias.pick(self._draw())
            if qualifier == LATEST:
                return latest
        return versions.get(qualifier)

    def default(self) -> Optional[FunctionConfig]:
        """The function AWS's emulator path serves: the one named ``function``, else the first."""
        return self._functions.get("function") or next(iter(self._functions.values()), None)


@functools.lru_cache(maxsize=1024)
def _reference(identifier: str) -> names.FunctionReference:
    """A namespaced FunctionName parsed once: Invoke names the same few functions again and again."""
    return names.parse_function_reference(identifier, namespaced=True)
