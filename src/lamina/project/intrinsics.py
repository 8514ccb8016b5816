"""CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``…) and a local resolver for them.

PyYAML's safe loader refuses unknown tags; :func:`load_yaml` turns each ``!Name`` into the long form
(``{"Ref": …}``, ``{"Fn::Name": …}``) that JSON templates use, so the rest of the code sees one shape.
:class:`Resolver` evaluates what can be known locally — parameters, pseudo parameters, resource names,
``Fn::Sub``/``Join``/``Select``/``Split``/``If``/``FindInMap`` — and records a warning for the rest.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Dict, List, Optional

import yaml

from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION
from lamina.project.errors import TemplateError

__all__ = ["NO_VALUE", "Resolver", "TemplateError", "load_yaml"]

NO_VALUE = object()  # AWS::NoValue: the property is removed
_SUB_RE = re.compile(r"\$\{([^}!][^}]*)\}")


class _TemplateLoader(yaml.SafeLoader):
    """A safe loader that knows CloudFormation's tags."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # PyYAML builds only the three kinds above
        raise TemplateError(f"Template format error: !{suffix} on an unknown YAML node")
    if suffix == "Ref" or suffix == "Condition":
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_yaml(text: str) -> Any:
    """Parse a template (YAML or JSON) with CloudFormation's tags."""
    try:
        return yaml.load(text, Loader=_TemplateLoader)
    except yaml.YAMLError as exc:
        raise TemplateError(f"Template format error: {exc}") from None


class Resolver:
    """Evaluates intrinsic functions against what a local run knows."""

    def __init__(self, *, parameters: Mapping[str, Any], resources: Mapping[str, Any],
                 mappings: Optional[Mapping[str, Any]] = None, conditions: Optional[Mapping[str, Any]] = None,
                 region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 stack_name: str = "lamina", pseudo: Optional[Mapping[str, Any]] = None) -> None:
        self.parameters = dict(parameters)
        self.resources = resources
        self.mappings = mappings or {}
        self.conditions = conditions or {}
        self.pseudo = {
            "AWS::Region": region, "AWS::AccountId": account, "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
            **(pseudo or {}),  # --parameter-overrides AWS::AccountId=… as sam local allows
        }
        self.region, self.account = region, account
        self.warnings: List[str] = []

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic evaluated (``NO_VALUE`` entries dropped)."""
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return name  # a function's or resource's name: its logical id locally
        self.warnings.append(f"!Ref {name}: no such parameter or resource; using {name!r}")
        return name

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = [*arg, ""][:2] if isinstance(arg, list) else (str(arg), "")
        resource = self.resources.get(logical_id, {})
        kind = resource.get("Type", "") if isinstance(resource, dict) else ""
        if attribute == "Arn" and kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:aws:lambda:{self.region}:{self.account}:function:{logical_id}"
        return f"{logical_id}.{attribute}"

    def _sub(self, arg: Any) -> str:
        template, variables = (arg[0], self.resolve(arg[1])) if isinstance(arg, list) else (arg, {})
        if not isinstance(template, str):
            raise TemplateError(f"Fn::Sub needs a string, got {template!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self._get_att(name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_RE.sub(replace, template).replace("${!", "${")

    def condition(self, name: Any) -> bool:
        """A named condition's value (true when it cannot be evaluated locally)."""
        condition = self.conditions.get(name)
        if condition is None:
            return True
        value = self.resolve(condition)
        return bool(value) if isinstance(value, bool) else True

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Sub":
            return self._sub(arg)
        if name == "GetAtt":
            return self._get_att(arg)
        if name == "Join":
            delimiter, items = arg
            return str(delimiter).join(str(v) for v in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            delimiter, text = self.resolve(arg)
            return str(text).split(delimiter)
        if name == "If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = self.resolve(arg)
            return left == right
        if name == "Not":
            return not self.resolve(arg)[0]
        if name == "Or":
            return any(bool(v) for v in self.resolve(arg))
        if name == "And":
            return all(bool(v) for v in self.resolve(arg))
        if name == "FindInMap":
            table, first, second = self.resolve(arg)[:3]
            try:
                return self.mappings[table][first][second]
            except (KeyError, TypeError):
                self.warnings.append(f"!FindInMap {table}/{first}/{second}: not in Mappings")
                return ""
        if name == "Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        self.warnings.append(f"Fn::{name} cannot be evaluated locally; its value is left empty")
        return ""
