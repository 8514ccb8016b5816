"""Lambda's names and ARNs: building them, and reading the forms the API accepts.

``FunctionName`` may be a name, ``name:qualifier``, a partial ARN (``123456789012:function:name``) or a
full ARN; layer names may be a name or a layer ARN. Patterns are botocore's, so a value AWS would
refuse is refused here with the same ValidationException.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.local.model import service_errors as errors

# The one account id and region of the local Lambda when nothing configures them.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
LATEST = "$LATEST"
# Function names as Lambda accepts them (the name part of an ARN).
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")

# botocore's patterns, quoted in AWS's ValidationException messages. FunctionName (CreateFunction,
# Update…) takes a plain name; NamespacedFunctionName (Invoke, GetFunction, DeleteFunction…) also a
# dotted one and the $LATEST.PUBLISHED qualifier.
FUNCTION_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?"
                         r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?")
NAMESPACED_FUNCTION_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?"
                                    r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
MAX_FUNCTION_NAME = 140
MAX_NAMESPACED_FUNCTION_NAME = 256
MAX_QUALIFIER = 128
_PREFIX = (r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
           r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}):)?"
           r"(?:(?P<account>\d{12}):)?(?:function:)?")
# The same patterns with the name and qualifier captured (ASCII: \d is 0-9 only, as in Java).
_FUNCTION_NAME = re.compile(
    _PREFIX + r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?", re.ASCII)
_NAMESPACED_FUNCTION_NAME = re.compile(
    _PREFIX + r"(?P<name>[a-zA-Z0-9-_\.]+)(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
    re.ASCII)
_QUALIFIER = re.compile(QUALIFIER_PATTERN, re.ASCII)
ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_ALIAS = re.compile(r"(?![0-9]+$)[a-zA-Z0-9-_]{1,128}", re.ASCII)
LATEST_PUBLISHED = "$LATEST.PUBLISHED"
LAYER_NAME_PATTERN = (r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+")
_LAYER_NAME = re.compile(r"(?:arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:)?([a-zA-Z0-9-_]{1,140})")
LAYER_VERSION_ARN_PATTERN = r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
_LAYER_VERSION_ARN = re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):\d{12}:layer:([a-zA-Z0-9-_]+):([0-9]+)")


def function_arn(region: str, name: str, account: str = DEFAULT_ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def layer_arn(region: str, layer_name: str, account: str = DEFAULT_ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{layer_name}"


def layer_version_arn(region: str, layer_name: str, version: int) -> str:
    return f"{layer_arn(region, layer_name)}:{version}"


@dataclass(frozen=True)
class FunctionReference:
    """What a FunctionName names: the function, and the qualifier, region and account it spells out."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def parse_function_reference(value: str, *, namespaced: bool = False) -> FunctionReference:
    """Any accepted form of FunctionName, or AWS's refusal.

    ``namespaced``: the member is a NamespacedFunctionName (Invoke, InvokeWithResponseStream,
    GetFunction, DeleteFunction…), which is longer and admits dots; else a FunctionName. A name over
    64 characters matches neither Lambda's name rule nor any function: a plain FunctionName (create,
    update) refuses it with InvalidParameterValueException, a namespaced one lets the lookup answer
    "not found", as Lambda does.
    """
    limit = MAX_NAMESPACED_FUNCTION_NAME if namespaced else MAX_FUNCTION_NAME
    if len(value) > limit:
        raise errors.validation(value, "functionName",
                                f"Member must have length less than or equal to {limit}")
    pattern, text = ((_NAMESPACED_FUNCTION_NAME, NAMESPACED_FUNCTION_NAME_PATTERN) if namespaced
                     else (_FUNCTION_NAME, FUNCTION_NAME_PATTERN))
    match = pattern.fullmatch(value)
    if match is None:
        raise errors.validation(value, "functionName",
                                f"Member must satisfy regular expression pattern: {text}")
    name = match.group("name")
    if len(name) > MAX_FUNCTION_NAME:  # beyond any FunctionName: Lambda names the name's own bound
        raise errors.validation(value, "functionName", "Member must have length less than or equal to 64")
    if len(name) > 64 and not namespaced:
        raise errors.invalid_parameter(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
            "constraint: Member must have length less than or equal to 64")
    return FunctionReference(name, match.group("qualifier"), match.group("region"), match.group("account"))


def parse_function_name(value: str, *, namespaced: bool = False) -> tuple[str, str | None]:
    """``(name, qualifier)`` of :func:`parse_function_reference`."""
    reference = parse_function_reference(value, namespaced=namespaced)
    return reference.name, reference.qualifier


def resolve_qualifier(reference: FunctionReference, qualifier: str | None) -> str | None:
    """The one qualifier of a call: the ``Qualifier`` member, or the one in the name, which must agree."""
    qualifier = parse_qualifier(qualifier)
    if reference.qualifier is not None and qualifier is not None and reference.qualifier != qualifier:
        raise errors.invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier.")
    return qualifier or reference.qualifier


def check_reachable(reference: FunctionReference, region: str, account: str, action: str) -> None:
    """Refuse a function ARN of another region (404) or account (403), as Lambda does."""
    if reference.region is not None and reference.region != region:
        raise errors.not_reachable(reference.region, region)
    if reference.account is not None and reference.account != account:
        arn = function_arn(reference.region or region, reference.name, reference.account)
        raise errors.not_authorized(account, action, f"{arn}:{reference.qualifier}" if reference.qualifier
                                    else arn)


def is_alias_name(value: str) -> bool:
    """An alias's name: Lambda's Alias pattern (never only digits, which is a version)."""
    return _ALIAS.fullmatch(value) is not None


def parse_qualifier(value: str | None) -> str | None:
    """The ``Qualifier`` query member as Lambda checks it (a version, an alias or ``$LATEST``)."""
    if value is None:
        return None
    if not value:
        raise errors.validation(value, "qualifier", "Member must have length greater than or equal to 1")
    if len(value) > MAX_QUALIFIER:
        raise errors.validation(value, "qualifier",
                                f"Member must have length less than or equal to {MAX_QUALIFIER}")
    if _QUALIFIER.fullmatch(value) is None:
        raise errors.validation(value, "qualifier",
                                f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}")
    return value


def parse_layer_name(value: str) -> str:
    match = _LAYER_NAME.fullmatch(value)
    if match is None:
        raise errors.validation(value, "layerName",
                                f"Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}")
    return match.group(1)


def parse_layer_version_arn(value: str) -> tuple[str, str, int]:
    """``(region, layer_name, version)`` from a layer version ARN."""
    match = _LAYER_VERSION_ARN.fullmatch(value)
    if match is None:
        constraint = f"Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"
        raise errors.validation(value, "arn", constraint)
    return match.group(1), match.group(2), int(match.group(3))


def region_from_authorization(header: str | None) -> str:
    """The region a SigV4 request was signed for (``Credential=AKID/date/REGION/lambda/…``)."""
    if header:
        match = re.search(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/", header)
        if match:
            return match.group(1)
    return DEFAULT_REGION
