"""SAM templates: intrinsic tags, Globals, events → routes, unsupported parts warned and skipped."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lamina.local.frontends.options import FrontendOptions, frontend_options, functions_from_template
from lamina.local.invoke.event_policy import EventInvokeConfig
from lamina.project.sam import TemplateError, load_template, parse_template

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sam-app"


def test_documented_example_template_yields_its_functions_routes_and_layer() -> None:
    app = load_template(EXAMPLE / "template.yaml")
    functions = {f.name: f for f in app.functions}
    assert set(functions) == {"ItemsFunction", "LegacyFunction"}
    items = functions["ItemsFunction"]
    assert items.code_dir == EXAMPLE / "src"
    assert items.handler == "items.handler" and items.runtime == "python3.12"
    assert items.memory_size == 256 and items.timeout == 10
    assert items.environment == {"STAGE": "local", "TABLE_NAME": "ItemsTable",
                                 "SELF_ARN": "arn:aws:lambda:us-east-1:123456789012:function:ItemsFunction"}
    assert items.layers == (EXAMPLE / "layer",)
    assert items.event_invoke_config == EventInvokeConfig(1, 600)
    assert functions["LegacyFunction"].memory_size == 128
    keys = {(r.function_name, r.route_key, r.payload_format) for r in app.routes}
    assert keys == {("ItemsFunction", "GET /items/{id}", "2.0"), ("ItemsFunction", "PUT /items/{id}", "2.0"),
                    ("LegacyFunction", "ANY /legacy/{proxy+}", "1.0")}
    assert any("ItemsTable" in w and "AWS::DynamoDB::Table" in w for w in app.warnings)


def template(body: str) -> str:
    return textwrap.dedent(body)


def test_intrinsic_tags_in_every_yaml_form_parse_and_resolve(tmp_path: Path) -> None:
    app = parse_template(template("""
        Parameters:
          Name: {Type: String, Default: world}
        Mappings:
          Env: {local: {Level: debug}}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Runtime: python3.11
              Environment:
                Variables:
                  A: !Sub "hello ${Name} in ${AWS::Region}"
                  B: !Sub ["${x}-${Name}", {x: !Ref AWS::AccountId}]
                  C: !GetAtt Fn.Arn
                  D: !Join [":", [a, !Ref Name]]
                  E: !FindInMap [Env, local, Level]
                  F: !Select [1, !Split [",", "p,q,r"]]
                  G: !If [Always, first, second]
                  I: true
                  H: !Ref AWS::NoValue
        """), tmp_path, parameter_overrides={"Name": "lamina"})
    (fn,) = app.functions
    assert fn.code_dir == tmp_path
    assert fn.environment == {"A": "hello lamina in us-east-1", "B": "123456789012-lamina",
                              "C": "arn:aws:lambda:us-east-1:123456789012:function:Fn", "D": "a:lamina",
                              "E": "debug", "F": "q", "G": "first", "I": "true"}


def test_globals_merge_maps_append_lists_and_functions_override_scalars(tmp_path: Path) -> None:
    app = parse_template(template("""
        Globals:
          Function:
            Timeout: 30
            Handler: base.handler
            Environment: {Variables: {SHARED: "1", OVER: global}}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code
              Handler: app.handler
              Environment: {Variables: {OVER: local}}
        """), tmp_path)
    (fn,) = app.functions
    assert fn.timeout == 30 and fn.handler == "app.handler" and fn.code_dir == tmp_path / "code"
    assert fn.environment == {"SHARED": "1", "OVER": "local"}


def test_http_api_event_without_path_is_the_default_route(tmp_path: Path) -> None:
    app = parse_template(template("""
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Events:
                All: {Type: HttpApi}
                Queue: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
          Q: {Type: AWS::SQS::Queue}
        """), tmp_path)
    assert [r.route_key for r in app.routes] == ["$default"]
    assert any("SQS" in w for w in app.warnings) and any("AWS::SQS::Queue" in w for w in app.warnings)


def test_unsupported_functions_are_warned_about_and_the_rest_served(tmp_path: Path) -> None:
    app = parse_template(template("""
        Resources:
          Node: {Type: AWS::Serverless::Function, Properties: {Runtime: nodejs20.x, Handler: i.h}}
          Remote: {Type: AWS::Serverless::Function, Properties: {CodeUri: s3://b/k.zip, Handler: a.h}}
          Image: {Type: AWS::Serverless::Function, Properties: {PackageType: Image, ImageUri: "repo:latest"}}
          Py: {Type: AWS::Serverless::Function, Properties: {Handler: app.handler, Runtime: python3.11}}
        """), tmp_path)
    assert [f.name for f in app.functions] == ["Py"]
    assert len(app.warnings) == 3


@pytest.mark.parametrize("text", ["Resources: [", "just a string", "Parameters: {}"])
def test_unreadable_templates_raise_a_template_format_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Template format error"):
        parse_template(text, tmp_path)


def test_serve_flags_stay_with_the_template_for_its_reloads(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(template("""
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12}
    """))
    options = FrontendOptions()
    flags = {"max_concurrency": 4, "concurrency": 2, "snap_start": True, "memory": 512, "timeout": 9.0}
    served = frontend_options(options, template=path, overrides=flags)
    reloaded = functions_from_template(path, options.overrides).functions  # what a template edit reads
    for config in (*served, *reloaded):
        assert (config.environment_concurrency, config.max_concurrency, config.snap_start) == (4, 2, True)
        assert (config.memory_mb, config.timeout) == (512, 9.0)
