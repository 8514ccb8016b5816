"""Real SAM and CDK templates (tests/project/fixtures): functions, names, APIs, overrides, warnings."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from lamina.local.frontends.routes import RouteTable
from lamina.project.cdk import stack_templates
from lamina.project.overrides import load_env_vars, parse_parameter_overrides
from lamina.project.sam import TemplateError, load_template, load_templates, parse_template

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAM = FIXTURES / "sam-app"
CDK_OUT = FIXTURES / "cdk-app" / "cdk.out"


def sam_app():  # type: ignore[no-untyped-def]
    return load_template(SAM / "template.yaml", {"Greeting": "hi"}, env_vars=load_env_vars(SAM / "env.json"))


def test_function_name_is_served_and_logical_id_is_an_alias_nested_as_child_slash_function() -> None:
    app = sam_app()
    assert app.aliases == {"RestFunction": "rest-items", "Child/ChildFunction": "Child-ChildFunction"}
    assert app.find("Child/ChildFunction").environment == {"APP_SUFFIX": "from-parent"}
    assert app.find("TenantFunction").tenant_isolation


def test_parameter_overrides_and_env_vars_file_follow_sam() -> None:
    app = sam_app()
    assert app.find("rest-items").environment == {"APP_GREETING": "hi", "APP_COLOR": "red"}
    assert app.find("PlainFunction").environment == {"APP_GREETING": "hi", "APP_COLOR": "green"}
    assert any("APP_UNDECLARED" in w for w in app.warnings)
    assert parse_parameter_overrides(["A=1 B='two words'", "ParameterKey=C,ParameterValue=3"]) == {
        "A": "1", "B": "two words", "C": "3"}


def test_rest_and_http_apis_with_stages_cors_mocks_and_openapi_routes() -> None:
    routes = {(r.route_key, r.api.api_id): r for r in sam_app().routes}
    items = routes[("GET /items/{id}", "RestApi")]
    assert items.api.is_rest and items.api.stage == "dev"
    assert items.api.stage_variables == (("color", "blue"),)
    assert items.api.binary_media_types == ("image/png",)
    assert routes[("GET /implicit", "ServerlessRestApi")].api.stage == "Prod"
    assert routes[("OPTIONS /items/{id}", "RestApi")].mock[0] == 200
    assert routes[("GET /defined", "HttpApi")].function_name == "PlainFunction"
    assert routes[("GET /things", "HttpApi")].payload_format == "1.0"
    assert routes[("GET /tenant", "ServerlessHttpApi")].api.stage == "$default"


def test_inline_code_is_written_as_index_py() -> None:
    inline = sam_app().find("InlineFunction")
    assert (inline.code_dir / "index.py").read_text().startswith("def handler")


def test_ignored_properties_are_warned_once_by_resource_and_property() -> None:
    warnings = sam_app().warnings
    assert warnings.count("RestFunction: property Tracing is not applied locally (ignored)") == 1


def test_cdk_synth_output_gives_asset_code_layer_and_api_gateway_routes() -> None:
    app = load_templates(stack_templates(CDK_OUT))
    (function,) = app.functions
    assert function.code_dir.parent == CDK_OUT and (function.code_dir / "app.py").is_file()
    assert (function.layers[0] / "python" / "shared.py").is_file()
    keys = {(r.route_key, r.api.kind, r.api.stage) for r in app.routes if r.mock is None}
    assert keys == {("GET /items", "REST", "prod"), ("GET /items/{id}", "REST", "prod"),
                    ("GET /things/{id}", "HTTP", "$default")}
    assert not any("CDK::Metadata" in w or "Fn::Or" in w for w in app.warnings)


def test_duplicate_function_names_are_refused(tmp_path: Path) -> None:
    text = textwrap.dedent("""
        Resources:
          A: {Type: AWS::Serverless::Function, Properties: {FunctionName: same, Handler: a.h}}
          B: {Type: AWS::Serverless::Function, Properties: {FunctionName: same, Handler: b.h}}
    """)
    with pytest.raises(TemplateError, match="both served as 'same'"):
        parse_template(text, tmp_path)


def test_image_without_image_uri_is_sams_error(tmp_path: Path) -> None:
    text = "Resources:\n  Img: {Type: AWS::Serverless::Function, Properties: {PackageType: Image}}\n"
    with pytest.raises(TemplateError, match=r"Resource with id \[Img\] is invalid. ImageUri needs to be"):
        parse_template(text, tmp_path)


def test_zip_code_uri_and_zip_layer_are_unpacked(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    with zipfile.ZipFile(tmp_path / "layer.zip", "w") as archive:
        archive.writestr("python/dep.py", "X = 1\n")
    text = textwrap.dedent("""
        Resources:
          Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn.zip, Handler: app.handler,
               Runtime: python3.12, Layers: [!Ref Dep]}}
          Dep: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layer.zip}}
    """)
    (function,) = parse_template(text, tmp_path).functions
    assert (function.code_dir / "app.py").is_file() and (function.layers[0] / "python" / "dep.py").is_file()


def test_duplicate_route_in_one_api_is_refused_but_not_across_apis() -> None:
    routes = sam_app().routes
    RouteTable(routes)  # /items in RestApi and /implicit in ServerlessRestApi: distinct APIs
    with pytest.raises(ValueError, match="declared more than once"):
        RouteTable([*routes, routes[0]])
