"""SAM templates → the functions and routes ``lamina serve --template`` runs, without Docker.

Reads ``AWS::Serverless::Function`` resources (``CodeUri``, ``Handler``, ``Runtime``, ``MemorySize``,
``Timeout``, ``Environment.Variables``, ``Layers``, ``EventInvokeConfig``, ``Events`` of type
``HttpApi`` (payload 2.0) and ``Api`` (REST, payload 1.0)), merged over ``Globals.Function`` as SAM
merges them (maps merge, lists append, scalars override). Layers may be ``AWS::Serverless::LayerVersion``
resources of the template (their ``ContentUri``). Everything else is warned about and skipped, so the
rest of the application is still served. Pure code apart from reading the template file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from lamina.local.frontends.routes import DEFAULT_ROUTE_KEY, InvalidRouteError, Route, parse_route
from lamina.local.invoke.event_policy import EventInvokeConfig, InvalidEventInvokeConfigError
from lamina.local.model.names import DEFAULT_REGION
from lamina.project.errors import TemplateError
from lamina.project.intrinsics import Resolver, load_yaml

__all__ = ["SamApplication", "SamFunction", "TemplateError", "load_template", "parse_template"]

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
# Resources SAM turns into what serving the functions already covers: no warning for them.
QUIETLY_COVERED = ("AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::IAM::Role",
                   "AWS::Lambda::Permission", "AWS::Logs::LogGroup")
SUPPORTED_RUNTIME_PREFIXES = ("python3", "provided")
DEFAULT_MEMORY, DEFAULT_TIMEOUT = 128, 3


@dataclass(frozen=True)
class SamFunction:
    """One function of the template, its paths resolved against the template's directory."""

    name: str
    code_dir: Path
    handler: str
    runtime: Optional[str] = None
    memory_size: int = DEFAULT_MEMORY
    timeout: float = DEFAULT_TIMEOUT
    environment: Dict[str, str] = field(default_factory=dict)
    layers: Tuple[Path, ...] = ()
    event_invoke_config: Optional[EventInvokeConfig] = None


@dataclass
class SamApplication:
    """The servable part of a template, with a warning for each part left out."""

    functions: List[SamFunction] = field(default_factory=list)
    routes: List[Route] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def _merge(globals_: Any, local: Any) -> Any:
    """SAM's Globals rule: maps merge, lists append (globals first), scalars from the function."""
    if isinstance(globals_, dict) and isinstance(local, dict):
        merged = dict(globals_)
        for key, value in local.items():
            merged[key] = _merge(globals_[key], value) if key in globals_ else value
        return merged
    if isinstance(globals_, list) and isinstance(local, list):
        return [*globals_, *local]
    return local


def _env_value(value: Any) -> str:
    """Environment values are strings; CloudFormation writes YAML booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _code_dir(value: Any, base: Path, name: str, warnings: List[str]) -> Optional[Path]:
    if value is None:
        return base
    if isinstance(value, str) and not value.startswith("s3://"):
        return (base / value).resolve()
    warnings.append(f"{name}: CodeUri {value!r} is not a local path; the function is skipped")
    return None


def _layers(values: Any, resources: Mapping[str, Any], base: Path, name: str,
            warnings: List[str]) -> Tuple[Path, ...]:
    paths: List[Path] = []
    for layer in values or []:
        resource = resources.get(layer) if isinstance(layer, str) else None
        if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES:
            props = resource.get("Properties") or {}
            content = props.get("ContentUri", props.get("Content"))
            if isinstance(content, str):
                paths.append((base / content).resolve())
                continue
        warnings.append(f"{name}: layer {layer!r} is not a local layer of this template; it is left out")
    return tuple(paths)


def _routes(events: Any, name: str, warnings: List[str]) -> List[Route]:
    routes: List[Route] = []
    for event_name, event in (events or {}).items():
        if not isinstance(event, dict):
            continue
        kind, props = event.get("Type"), event.get("Properties") or {}
        if kind not in ("HttpApi", "Api"):
            warnings.append(f"{name}: event {event_name} of type {kind} is not served locally "
                            "(use `lamina event` and `lamina invoke` to try it)")
            continue
        payload_format = "1.0" if kind == "Api" else str(props.get("PayloadFormatVersion", "2.0"))
        path, method = props.get("Path"), str(props.get("Method", "ANY")).upper()
        key = DEFAULT_ROUTE_KEY if path is None else f"{'ANY' if method in ('ANY', '*') else method} {path}"
        try:
            routes.append(parse_route(key, name, payload_format))
        except InvalidRouteError as exc:
            warnings.append(f"{name}: event {event_name}: {exc}")
    return routes


def _event_invoke_config(value: Any, name: str, warnings: List[str]) -> Optional[EventInvokeConfig]:
    if not isinstance(value, dict):
        return None
    values: Dict[str, Any] = {}
    if "MaximumRetryAttempts" in value:
        values["maximum_retry_attempts"] = value["MaximumRetryAttempts"]
    if "MaximumEventAgeInSeconds" in value:
        values["maximum_event_age_seconds"] = value["MaximumEventAgeInSeconds"]
    if value.get("DestinationConfig"):
        warnings.append(f"{name}: EventInvokeConfig destinations are AWS resources; "
                        "set on_failure in the project file for a local one")
    try:
        return EventInvokeConfig(**values)
    except InvalidEventInvokeConfigError as exc:
        warnings.append(f"{name}: EventInvokeConfig ignored: {exc}")
        return None


def _function(name: str, props: Dict[str, Any], resources: Mapping[str, Any], base: Path,
              app: SamApplication) -> None:
    warnings = app.warnings
    runtime = props.get("Runtime")
    if props.get("PackageType") == "Image":
        warnings.append(f"{name}: container image functions are not served locally; skipped")
        return
    if runtime is not None and not str(runtime).startswith(SUPPORTED_RUNTIME_PREFIXES):
        warnings.append(f"{name}: runtime {runtime} is not supported locally (Python and provided.* are); "
                        "skipped")
        return
    if props.get("InlineCode") is not None:
        warnings.append(f"{name}: InlineCode is not supported locally; skipped")
        return
    code_dir = _code_dir(props.get("CodeUri"), base, name, warnings)
    if code_dir is None:
        return
    variables = (props.get("Environment") or {}).get("Variables") or {}
    function = SamFunction(
        name=str(props.get("FunctionName") or name),
        code_dir=code_dir,
        handler=str(props.get("Handler", "")),
        runtime=str(runtime) if runtime is not None else None,
        memory_size=int(props.get("MemorySize", DEFAULT_MEMORY)),
        timeout=float(props.get("Timeout", DEFAULT_TIMEOUT)),
        environment={str(k): _env_value(v) for k, v in variables.items()},
        layers=_layers(props.get("Layers"), resources, base, name, warnings),
        event_invoke_config=_event_invoke_config(props.get("EventInvokeConfig"), name, warnings),
    )
    app.functions.append(function)
    app.routes.extend(_routes(props.get("Events"), function.name, warnings))


def parse_template(text: str, base_dir: Path, parameter_overrides: Optional[Mapping[str, str]] = None,
                   region: str = DEFAULT_REGION) -> SamApplication:
    """The servable functions and routes of a template's text; paths resolve against ``base_dir``."""
    template = load_yaml(text)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError("Template format error: a template needs a Resources section")
    resources: Dict[str, Any] = template["Resources"]
    declared = template.get("Parameters") or {}
    parameters = {name: (spec or {}).get("Default") for name, spec in declared.items()}
    parameters.update(parameter_overrides or {})
    resolver = Resolver(parameters=parameters, resources=resources, mappings=template.get("Mappings"),
                        conditions=template.get("Conditions"), region=region)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    app = SamApplication()
    for name, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind == SERVERLESS_FUNCTION:
            props = _merge(copy.deepcopy(globals_), resource.get("Properties") or {})
            _function(name, resolver.resolve(props), resources, base_dir, app)
        elif kind not in LAYER_TYPES and kind not in QUIETLY_COVERED:
            app.warnings.append(f"{name}: resource type {kind} is not supported by lamina serve; skipped")
    app.warnings.extend(resolver.warnings)
    return app


def load_template(path: Path, parameter_overrides: Optional[Mapping[str, str]] = None) -> SamApplication:
    """Read a SAM template file (``template.yaml``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror}") from None
    return parse_template(text, path.resolve().parent, parameter_overrides)
