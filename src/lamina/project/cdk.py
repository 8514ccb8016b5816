"""A CDK cloud assembly (``cdk.out/``) → its stack templates, as ``cdk synth`` lists them.

``manifest.json`` names each stack's template (artifacts of type ``aws:cloudformation:stack``, including
those of nested stages); without a manifest, every ``*.template.json`` but nested-stack templates. The
templates themselves are CloudFormation (``AWS::Lambda::Function`` with ``aws:asset:path`` metadata,
``AWS::ApiGateway*``), read by :mod:`lamina.project.sam`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

from lamina.project.errors import TemplateError

__all__ = ["stack_templates"]

STACK = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"


def stack_templates(cdk_out: Path) -> List[Path]:
    """The stack templates of a cloud assembly directory; raises TemplateError when there are none."""
    cdk_out = Path(cdk_out)
    manifest = cdk_out / "manifest.json"
    templates: List[Path] = []
    if manifest.is_file():
        try:
            document: Any = json.loads(manifest.read_text())
        except ValueError as exc:
            raise TemplateError(f"{manifest} is not JSON: {exc}") from None
        for artifact in (document.get("artifacts") or {}).values():
            props = artifact.get("properties") or {}
            if artifact.get("type") == STACK and props.get("templateFile"):
                templates.append(cdk_out / str(props["templateFile"]))
            elif artifact.get("type") == NESTED_ASSEMBLY and props.get("directoryName"):
                templates.extend(stack_templates(cdk_out / str(props["directoryName"])))
    else:
        templates = sorted(p for p in cdk_out.glob("*.template.json") if ".nested." not in p.name)
    if not templates:
        raise TemplateError(f"{cdk_out}: no stack templates (run cdk synth first)")
    return templates
