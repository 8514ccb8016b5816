"""SAM and CloudFormation templates → the functions and routes ``lamina serve --template`` runs, without
Docker.

Functions: ``AWS::Serverless::Function`` (``CodeUri`` as a directory or a ``.zip``, ``InlineCode``,
``Handler``, ``Runtime``, ``MemorySize``, ``Timeout``, ``Environment.Variables``, ``Layers``,
``EventInvokeConfig``, ``Events``, ``FunctionName``, ``TenancyConfig``), merged over ``Globals.Function``
as SAM merges them (maps merge, lists append, scalars override), and ``AWS::Lambda::Function`` (what CDK
synthesizes: code from its ``aws:asset:path`` metadata, ``Code.ZipFile``, or a local ``Code`` path as
``sam build`` writes it). Layers are ``AWS::Serverless::LayerVersion``/``AWS::Lambda::LayerVersion``
resources of the template (``ContentUri``, ``Content`` or asset metadata; directories or zips).
``AWS::Serverless::Application`` with a local ``Location`` is read as a nested template, its functions
known as ``Child/Function``. Routes come from :mod:`lamina.project.apis`.

Each function is served under its ``FunctionName`` (else its logical id; ``Child-Function`` when
nested) and can be invoked by its logical id too (:attr:`SamApplication.aliases`). Every property,
resource and event lamina does not apply is warned about once, by name. Pure code apart from reading the
template files and unpacking zip code (:mod:`lamina.project.code`).
"""

from __future__ import annotations

import copy
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from lamina.local.frontends.routes import HTTP_API, REST_API, Route
from lamina.local.invoke.event_policy import EventInvokeConfig, InvalidEventInvokeConfigError
from lamina.local.model.names import DEFAULT_REGION, NAME_PATTERN
from lamina.project.apis import (
    CFN_API_TYPES,
    SAM_API,
    SAM_HTTP_API,
    ApiSet,
    function_reference,
    warn_ignored,
)
from lamina.project.code import code_directory, inline_code_directory
from lamina.project.errors import TemplateError
from lamina.project.intrinsics import Resolver, load_yaml
from lamina.project.overrides import EnvVars

__all__ = ["SamApplication", "SamFunction", "TemplateError", "load_template", "load_templates",
           "parse_template"]

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
SERVERLESS_APPLICATION = "AWS::Serverless::Application"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
# Resources whose local meaning serving the functions already covers (roles, permissions, logs, CDK's
# bookkeeping): no warning for them.
QUIETLY_COVERED = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Lambda::Permission", "AWS::Logs::LogGroup",
                   "AWS::CDK::Metadata", "AWS::ApiGateway::Account")
SUPPORTED_RUNTIME_PREFIXES = ("python3", "provided")
DEFAULT_MEMORY, DEFAULT_TIMEOUT = 128, 3
ASSET_PATH, ASSET_PROPERTY = "aws:asset:path", "aws:asset:property"
INLINE_FILE = "index.py"  # the file Lambda writes Python inline code (ZipFile, InlineCode) to

_SERVERLESS_HONOURED = frozenset({"FunctionName", "CodeUri", "InlineCode", "Handler", "Runtime", "MemorySize",
                                  "Timeout", "Environment", "Layers", "EventInvokeConfig", "Events",
                                  "PackageType", "ImageUri", "TenancyConfig", "Architectures",
                                  "ReservedConcurrentExecutions"})
_LAMBDA_HONOURED = frozenset({"FunctionName", "Code", "Handler", "Runtime", "MemorySize", "Timeout",
                              "Environment", "Layers", "PackageType", "TenancyConfig", "Architectures",
                              "ReservedConcurrentExecutions"})
_LAYER_HONOURED = frozenset({"ContentUri", "Content", "LayerName", "CompatibleRuntimes",
                             "CompatibleArchitectures", "LicenseInfo", "RetentionPolicy"})
_APPLICATION_HONOURED = frozenset({"Location", "Parameters"})
_RESOURCE_KEYS = frozenset({"Type", "Properties", "Metadata", "DependsOn", "Condition", "DeletionPolicy",
                            "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy"})
_HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine())


@dataclass(frozen=True)
class SamFunction:
    """One function of the template, its paths resolved against the template's directory."""

    name: str  # served under: FunctionName, else the logical id (nested: Child-Function)
    code_dir: Path
    handler: str
    runtime: Optional[str] = None
    memory_size: int = DEFAULT_MEMORY
    timeout: float = DEFAULT_TIMEOUT
    environment: Dict[str, str] = field(default_factory=dict)
    layers: Tuple[Path, ...] = ()
    event_invoke_config: Optional[EventInvokeConfig] = None
    logical_id: str = ""  # as SAM names it: Function, or Child/Function in a nested application
    tenant_isolation: bool = False  # TenancyConfig PER_TENANT: every invocation needs a tenant id
    reserved_concurrency: Optional[int] = None  # ReservedConcurrentExecutions


@dataclass
class SamApplication:
    """The servable part of a template, with a warning for each part left out."""

    functions: List[SamFunction] = field(default_factory=list)
    routes: List[Route] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def aliases(self) -> Dict[str, str]:
        """Logical id → served name, for the functions whose name differs from their logical id."""
        return {f.logical_id: f.name for f in self.functions if f.logical_id and f.logical_id != f.name}

    def find(self, identifier: str) -> Optional[SamFunction]:
        """A function by its served name or logical id (``Child/Function`` for nested ones)."""
        for function in self.functions:
            if identifier in (function.name, function.logical_id):
                return function
        return None


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


def _invalid(logical_id: str, message: str) -> TemplateError:
    """SAM's transform error for a resource it refuses."""
    return TemplateError(f"Invalid Serverless Application Specification document. Number of errors found: 1. "
                         f"Resource with id [{logical_id}] is invalid. {message}")


@dataclass
class _Reader:
    """One template being read (a nested application's template gets its own)."""

    template: Dict[str, Any]
    base_dir: Path
    resolver: Resolver
    app: SamApplication
    env_vars: Optional[EnvVars]
    prefix: str = ""  # "Child/" inside a nested application
    cache_base: Optional[Path] = None
    names: Dict[str, str] = field(default_factory=dict)  # logical id and served name → served name
    events: List[Tuple[str, str, Any]] = field(default_factory=list)  # (logical id, served name, Events)

    @property
    def warnings(self) -> List[str]:
        return self.app.warnings

    @property
    def resources(self) -> Dict[str, Any]:
        resources: Dict[str, Any] = self.template["Resources"]
        return resources

    def where(self, logical_id: str) -> str:
        return f"{self.prefix}{logical_id}"

    def path(self, value: str) -> Path:
        return (self.base_dir / value).resolve()

    def code(self, value: str) -> Path:
        return code_directory(self.path(value), self.cache_base or self.base_dir)

    # --- reading -----------------------------------------------------------------------------------

    def read(self) -> None:
        globals_section = self.template.get("Globals") or {}
        function_globals = globals_section.get("Function") or {}
        for logical_id, resource in self.resources.items():
            if not isinstance(resource, dict):
                continue
            kind = resource.get("Type")
            if resource.get("Condition") is not None and not self.resolver.condition(resource["Condition"]):
                continue  # CloudFormation does not create it
            for key in resource:
                if key not in _RESOURCE_KEYS:
                    self.warnings.append(f"{self.where(logical_id)}: resource attribute {key} is ignored")
            if kind == SERVERLESS_FUNCTION:
                props = _merge(copy.deepcopy(function_globals), resource.get("Properties") or {})
                self.serverless_function(logical_id, self.resolver.resolve(props))
            elif kind == LAMBDA_FUNCTION:
                self.lambda_function(logical_id, self.resolver.resolve(resource.get("Properties") or {}),
                                     resource.get("Metadata") or {})
            elif kind == SERVERLESS_APPLICATION:
                self.application(logical_id, self.resolver.resolve(resource.get("Properties") or {}))
            elif kind in LAYER_TYPES:
                warn_ignored(self.where(logical_id), self.resolver.resolve(resource.get("Properties") or {}),
                             _LAYER_HONOURED, self.warnings)
            elif kind not in (*QUIETLY_COVERED, *CFN_API_TYPES, SAM_API, SAM_HTTP_API):
                self.warnings.append(f"{self.where(logical_id)}: resource type {kind} is not supported by "
                                     "lamina serve; skipped")
        for key in globals_section:
            if key not in ("Function", "Api", "HttpApi"):
                self.warnings.append(f"Globals.{key} is not applied locally (ignored)")
        self.apis(globals_section)

    def apis(self, globals_section: Mapping[str, Any]) -> None:
        apis = ApiSet(self.resources, self.resolver.resolve, lambda ref: function_reference(ref, self.names),
                      self.base_dir, self.warnings, globals_section.get("Api"),
                      globals_section.get("HttpApi"))
        for logical_id, resource in self.resources.items():
            if not isinstance(resource, dict):
                continue
            kind = resource.get("Type")
            props = self.resolver.resolve(resource.get("Properties") or {})
            if kind == SAM_API:
                apis.sam_api(logical_id, props, REST_API)
            elif kind == SAM_HTTP_API:
                apis.sam_api(logical_id, props, HTTP_API)
            elif kind in CFN_API_TYPES:
                apis.cloudformation(logical_id, str(kind), props)
        for logical_id, name, events in self.events:
            for event_name, event in (events or {}).items():
                if not isinstance(event, dict):
                    continue
                kind = event.get("Type")
                if kind in ("Api", "HttpApi"):
                    apis.sam_event(name, str(event_name), str(kind), event.get("Properties") or {})
                else:
                    self.warnings.append(f"{self.where(logical_id)}: event {event_name} of type {kind} is "
                                         "not served locally (try it: `lamina event`, `lamina invoke`)")
        self.app.routes.extend(apis.routes())

    # --- functions -----------------------------------------------------------------------------------

    def serverless_function(self, logical_id: str, props: Dict[str, Any]) -> None:
        where = self.where(logical_id)
        warn_ignored(where, props, _SERVERLESS_HONOURED, self.warnings)
        if props.get("PackageType") == "Image":
            self.image(logical_id, props.get("ImageUri"))
            return
        inline = props.get("InlineCode")
        if inline is not None:
            code_dir = self.inline(where, inline, props.get("Runtime"))
        else:
            uri = props.get("CodeUri")
            if uri is not None and not isinstance(uri, str):
                self.warnings.append(f"{where}: CodeUri {uri!r} is not a local path; the function is skipped")
                return
            if isinstance(uri, str) and uri.startswith("s3://"):
                self.warnings.append(f"{where}: CodeUri {uri!r} is not a local path; the function is skipped")
                return
            code_dir = self.code(uri) if uri is not None else self.base_dir
        if code_dir is None:
            return
        self.function(logical_id, props, code_dir,
                      _event_invoke_config(props.get("EventInvokeConfig"), where, self.warnings))
        if props.get("Events"):
            self.events.append((logical_id, self.names[logical_id], props["Events"]))

    def lambda_function(self, logical_id: str, props: Dict[str, Any], metadata: Mapping[str, Any]) -> None:
        where = self.where(logical_id)
        warn_ignored(where, props, _LAMBDA_HONOURED, self.warnings)
        code = props.get("Code")
        if props.get("PackageType") == "Image":
            self.image(logical_id, code.get("ImageUri") if isinstance(code, dict) else None)
            return
        code_dir: Optional[Path]
        if isinstance(metadata.get(ASSET_PATH), str) and metadata.get(ASSET_PROPERTY, "Code") == "Code":
            code_dir = self.code(str(metadata[ASSET_PATH]))  # CDK's staged asset in cdk.out
        elif isinstance(code, str):
            code_dir = self.code(code)  # sam build's output template: a local path
        elif isinstance(code, dict) and isinstance(code.get("ZipFile"), str):
            code_dir = self.inline(where, code["ZipFile"], props.get("Runtime"))
        else:
            self.warnings.append(f"{where}: Code {code!r} is not local (no aws:asset:path metadata); "
                                 "the function is skipped")
            return
        if code_dir is not None:
            self.function(logical_id, props, code_dir, None)

    def image(self, logical_id: str, image_uri: Any) -> None:
        if not image_uri:
            raise _invalid(self.where(logical_id), "ImageUri needs to be present when PackageType is of type "
                                                   "`Image`")
        self.warnings.append(f"{self.where(logical_id)}: PackageType Image ({image_uri}) needs a container "
                             "runtime; lamina serves zip functions only, so it is skipped")

    def inline(self, where: str, code: Any, runtime: Any) -> Optional[Path]:
        if not str(runtime or "").startswith("python"):
            self.warnings.append(f"{where}: inline code runs locally for Python runtimes only; skipped")
            return None
        return inline_code_directory(str(code), INLINE_FILE, self.cache_base or self.base_dir)

    def function(self, logical_id: str, props: Dict[str, Any], code_dir: Path,
                 event_invoke_config: Optional[EventInvokeConfig]) -> None:
        where = self.where(logical_id)
        runtime = props.get("Runtime")
        if runtime is not None and not str(runtime).startswith(SUPPORTED_RUNTIME_PREFIXES):
            self.warnings.append(f"{where}: runtime {runtime} is not supported locally (Python and "
                                 "provided.* are); skipped")
            return
        for architecture in props.get("Architectures") or []:
            if architecture != _HOST_ARCHITECTURE:
                self.warnings.append(f"{where}: Architectures {architecture}: runs on this machine's "
                                     f"{_HOST_ARCHITECTURE} instead")
        tenancy = props.get("TenancyConfig") or {}
        name = str(props.get("FunctionName") or (f"{self.prefix.replace('/', '-')}{logical_id}"))
        if not NAME_PATTERN.fullmatch(name):
            raise TemplateError(f"{where}: FunctionName {name!r} is not a valid Lambda function name")
        for other in self.app.functions:
            if other.name == name:
                raise TemplateError(f"{other.logical_id} and {where} are both served as {name!r}: Lambda "
                                    f"refuses the second (ResourceConflictException: Function already exist: "
                                    f"{name}); give them different FunctionNames")
        variables = (props.get("Environment") or {}).get("Variables") or {}
        environment = {str(k): _env_value(v) for k, v in variables.items()}
        if self.env_vars is not None:
            environment = self.env_vars.apply(environment, [where, name], self.warnings)
        function = SamFunction(
            name=name,
            code_dir=code_dir,
            handler=str(props.get("Handler", "")),
            runtime=str(runtime) if runtime is not None else None,
            memory_size=int(props.get("MemorySize", DEFAULT_MEMORY)),
            timeout=float(props.get("Timeout", DEFAULT_TIMEOUT)),
            environment=environment,
            layers=self.layers(props.get("Layers"), where),
            event_invoke_config=event_invoke_config,
            logical_id=where,
            tenant_isolation=tenancy.get("TenantIsolationMode") == "PER_TENANT",
            reserved_concurrency=(int(props["ReservedConcurrentExecutions"])
                                  if props.get("ReservedConcurrentExecutions") is not None else None),
        )
        self.app.functions.append(function)
        self.names[logical_id] = self.names[name] = name

    def layers(self, values: Any, where: str) -> Tuple[Path, ...]:
        paths: List[Path] = []
        for layer in values or []:
            resource = self.resources.get(layer) if isinstance(layer, str) else None
            if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES:
                props = self.resolver.resolve(resource.get("Properties") or {})
                metadata = resource.get("Metadata") or {}
                content = props.get("ContentUri", props.get("Content"))
                if isinstance(metadata.get(ASSET_PATH), str) and metadata.get(ASSET_PROPERTY) == "Content":
                    content = metadata[ASSET_PATH]
                if isinstance(content, str) and not content.startswith("s3://"):
                    paths.append(self.code(content))
                    continue
            self.warnings.append(f"{where}: layer {layer!r} is not a local layer of this template; "
                                 "it is left out")
        return tuple(paths)

    # --- nested applications ---------------------------------------------------------------------------

    def application(self, logical_id: str, props: Dict[str, Any]) -> None:
        where = self.where(logical_id)
        warn_ignored(where, props, _APPLICATION_HONOURED, self.warnings)
        location = props.get("Location")
        if not isinstance(location, str) or location.startswith(("s3://", "https://")):
            self.warnings.append(f"{where}: Location {location!r} is not a local template (a Serverless "
                                 "Application Repository app); skipped")
            return
        path = self.path(location)
        text = _read(path)
        parameters = {str(k): _env_value(v) for k, v in (props.get("Parameters") or {}).items()}
        child = _reader(text, path.parent, parameters, self.resolver.region, self.env_vars, self.app,
                        prefix=f"{where}/", cache_base=self.cache_base)
        child.read()


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


def _parameters(template: Mapping[str, Any], overrides: Mapping[str, str], prefix: str,
                warnings: List[str]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Parameter values (defaults, then overrides) and pseudo-parameter overrides (``AWS::Region``)."""
    declared = template.get("Parameters") or {}
    values = {name: (spec or {}).get("Default") for name, spec in declared.items()}
    pseudo: Dict[str, str] = {}
    for key, value in overrides.items():
        if key.startswith("AWS::"):
            pseudo[key] = value
        elif key in declared:
            values[key] = value
        else:
            warnings.append(f"{prefix}parameter override {key} is not a parameter of the template (ignored)")
    for name, current in values.items():
        if current is None:
            warnings.append(f"{prefix}parameter {name} has no Default and no override; using ''")
            values[name] = ""
    return values, pseudo


def _reader(text: str, base_dir: Path, overrides: Mapping[str, str], region: str,
            env_vars: Optional[EnvVars], app: SamApplication, prefix: str = "",
            cache_base: Optional[Path] = None) -> _Reader:
    template = load_yaml(text)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError("Template format error: a template needs a Resources section")
    parameters, pseudo = _parameters(template, overrides, prefix, app.warnings)
    resolver = Resolver(parameters=parameters, resources=template["Resources"],
                        mappings=template.get("Mappings"), conditions=template.get("Conditions"),
                        region=pseudo.pop("AWS::Region", region), pseudo=pseudo)
    return _Reader(template, base_dir, resolver, app, env_vars, prefix, cache_base)


def parse_template(text: str, base_dir: Path, parameter_overrides: Optional[Mapping[str, str]] = None,
                   region: str = DEFAULT_REGION, env_vars: Optional[EnvVars] = None,
                   app: Optional[SamApplication] = None) -> SamApplication:
    """The servable functions and routes of a template's text; paths resolve against ``base_dir``."""
    app = app if app is not None else SamApplication()
    reader = _reader(text, base_dir, parameter_overrides or {}, region, env_vars, app)
    reader.read()
    app.warnings.extend(reader.resolver.warnings)
    return app


def _read(path: Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror}") from None


def load_template(path: Path, parameter_overrides: Optional[Mapping[str, str]] = None,
                  region: str = DEFAULT_REGION, env_vars: Optional[EnvVars] = None) -> SamApplication:
    """Read a SAM or CloudFormation template file (``template.yaml``, ``cdk.out/Stack.template.json``)."""
    return load_templates([path], parameter_overrides, region, env_vars)


def load_templates(paths: Iterable[Path], parameter_overrides: Optional[Mapping[str, str]] = None,
                   region: str = DEFAULT_REGION, env_vars: Optional[EnvVars] = None) -> SamApplication:
    """Several templates served together (a CDK app's stacks); names must stay distinct across them."""
    app = SamApplication()
    for path in paths:
        path = Path(path)
        parse_template(_read(path), path.resolve().parent, parameter_overrides, region, env_vars, app)
    return app

