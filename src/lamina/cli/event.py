"""``lamina event SOURCE [options]``: print a sample event to feed ``lamina invoke``.

    lamina event api-gw-v2 --method POST --path /items/1 --body '{"n": 1}' | lamina invoke app.handler
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional

import click

from lamina.cli.errors import Group
from lamina.local.frontends import sample_events
from lamina.local.model.names import DEFAULT_REGION

__all__ = ["event"]

_region = click.option("--region", default=DEFAULT_REGION, show_default=True)


def _emit(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


def _json_option(value: Optional[str], name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=name) from None


def _headers(values: tuple[str, ...]) -> list[tuple[str, str]]:
    headers = []
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="--header")
        headers.append((name.strip(), content.strip()))
    return headers


def _http_options(function: Callable[..., None]) -> Callable[..., None]:
    for option in reversed([
        click.option("--method", default="GET", show_default=True),
        click.option("--path", default="/", show_default=True),
        click.option("--query", default="", help="raw query string, e.g. 'a=1&a=2'"),
        click.option("--header", "headers", multiple=True, help="'Name: value', repeatable"),
        click.option("--body", default=None),
        _region,
    ]):
        function = option(function)
    return function


@click.group(cls=Group)
def event() -> None:
    """Print a realistic sample event (as AWS documents it) for `lamina invoke`."""


def _api(payload_format: str, route: Optional[str], method: str, path: str, query: str,
         headers: tuple[str, ...], body: Optional[str], region: str) -> None:
    try:
        _emit(sample_events.api_gateway_event(payload_format=payload_format, method=method, path=path,
                                              route=route, query=query, headers=_headers(headers), body=body,
                                              region=region))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@event.command("api-gw-v2")
@_http_options
@click.option("--route", default=None, help="route key, e.g. 'GET /items/{id}' (default: $default)")
def api_gw_v2(route: Optional[str], **options: Any) -> None:
    """API Gateway HTTP API event, payload format 2.0."""
    _api("2.0", route, **options)


@event.command("api-gw-v1")
@_http_options
@click.option("--route", default=None, help="route, e.g. 'GET /items/{id}' (default: ANY /{proxy+})")
def api_gw_v1(route: Optional[str], **options: Any) -> None:
    """API Gateway REST API proxy event, payload format 1.0."""
    _api("1.0", route, **options)


@event.command("function-url")
@_http_options
def function_url(method: str, path: str, query: str, headers: tuple[str, ...], body: Optional[str],
                 region: str) -> None:
    """Lambda function URL event."""
    _emit(sample_events.function_url_event(method=method, path=path, query=query, headers=_headers(headers),
                                           body=body, region=region))


def _sample(name: str, builder: Callable[..., Any], summary: str, *options: Callable[..., Any]) -> None:
    """A ``lamina event NAME`` whose options are the builder's keyword arguments as they are."""

    def command(**values: Any) -> None:
        _emit(builder(**values))

    command.__doc__ = summary
    decorated: Callable[..., Any] = command
    for option in reversed((*options, _region)):
        decorated = option(decorated)
    event.command(name)(decorated)


_sample("sqs", sample_events.sqs_event, "SQS message batch.",
        click.option("--body", default="Hello from SQS!", show_default=True),
        click.option("--queue", default="my-queue", show_default=True),
        click.option("--count", default=1, show_default=True, type=click.IntRange(1, 10000)))
_sample("s3", sample_events.s3_event, "S3 event notification.",
        click.option("--bucket", default="amzn-s3-demo-bucket", show_default=True),
        click.option("--key", default="test/key", show_default=True),
        click.option("--event-name", default="ObjectCreated:Put", show_default=True),
        click.option("--size", default=1024, show_default=True, type=click.IntRange(0)))
_sample("sns", sample_events.sns_event, "SNS notification.",
        click.option("--message", "--body", "message", default="Hello from SNS!", show_default=True),
        click.option("--topic", default="sns-lambda", show_default=True),
        click.option("--subject", default="TestInvoke", show_default=True))


@event.command()
@click.option("--source", default="com.example.orders", show_default=True)
@click.option("--detail-type", default="Order Placed", show_default=True)
@click.option("--detail", default=None, help="the detail object as JSON")
@_region
def eventbridge(source: str, detail_type: str, detail: Optional[str], region: str) -> None:
    """EventBridge event."""
    parsed = _json_option(detail, "--detail")
    if parsed is not None and not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--detail")
    _emit(sample_events.eventbridge_event(source=source, detail_type=detail_type, detail=parsed,
                                          region=region))


@event.command()
@click.option("--table", default="ExampleTable", show_default=True)
@click.option("--event-name", type=click.Choice(["INSERT", "MODIFY", "REMOVE"]), default="INSERT",
              show_default=True)
@click.option("--keys", default=None, help='key attributes as plain JSON, e.g. \'{"Id": 101}\'')
@click.option("--new-image", default=None, help="the new item as plain JSON")
@click.option("--old-image", default=None, help="the old item as plain JSON")
@_region
def dynamodb(table: str, event_name: str, keys: Optional[str], new_image: Optional[str],
             old_image: Optional[str], region: str) -> None:
    """DynamoDB Streams record batch."""
    images = {name: _json_option(value, f"--{name.replace('_', '-')}")
              for name, value in (("keys", keys), ("new_image", new_image), ("old_image", old_image))}
    for name, value in images.items():
        if value is not None and not isinstance(value, dict):
            raise click.BadParameter("must be a JSON object", param_hint=f"--{name.replace('_', '-')}")
    _emit(sample_events.dynamodb_event(table=table, event_name=event_name, region=region, **images))
