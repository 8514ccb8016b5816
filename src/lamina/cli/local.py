"""``lamina serve`` and ``lamina invoke``: the local Lambda from the command line.

Both build :class:`FunctionConfig` objects from the same flags (or a project file) and run them
through the same :class:`LocalLambda`; ``serve`` puts the Invoke API in front of it, ``invoke`` runs
one invocation and exits with the function's status.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import click

from lamina.cli.errors import Command
from lamina.cli.options import environment_option
from lamina.local import event_loop
from lamina.local.environments.logsink import ConsoleSink
from lamina.local.invoke.service import LocalLambda
from lamina.local.model.function_config import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    MANAGED_INSTANCES_MIN_MEMORY_MB,
    FunctionConfig,
    parse_bootstrap,
)
from lamina.local.model.service_errors import ServiceError
from lamina.local.sandbox.python_runtime import PythonRuntimes, parse_pythons
from lamina.project.functions import find_project_file, load_functions

F = Callable[..., Any]


def runtime_options(command: F) -> F:
    """The flags that say how functions run, shared by ``serve`` and ``invoke``."""
    options = [
        click.option("--python", "pythons", multiple=True, metavar="3.X=PATH",
                     help="The interpreter of python3.X functions (repeatable). Default: python3.X on PATH, "
                          "in pyenv, or through `uv python find 3.X`."),
        click.option("--no-boto3", "no_boto3", is_flag=True, default=False,
                     help="Do not provide boto3/botocore to functions (Lambda's Python runtimes do)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _python_runtimes(pythons: tuple[str, ...], no_boto3: bool) -> PythonRuntimes:
    try:
        return PythonRuntimes(parse_pythons(pythons), boto3=not no_boto3)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--python") from None


def _aws_region(region: Optional[str]) -> Optional[str]:
    """``--region``, else the region botocore resolves; the credentials it resolves from AWS_PROFILE's
    files stand in for the execution role (the environments get them as Lambda's variables)."""
    from lamina.local.sandbox.aws_config import AwsConfigError, resolve

    try:
        context = resolve()
    except AwsConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for variable, value in context.credentials.items():
        os.environ.setdefault(variable, value)
    return region or context.region


def template_options(command: F) -> F:
    """The flags that read a SAM or CDK application, for ``serve`` and ``invoke`` (sam local's names)."""
    options = [
        click.option("--template", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
                     help="Serve the functions of a SAM or CloudFormation template (template.yaml, "
                          "cdk.out/Stack.template.json)."),
        click.option("--cdk-out", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
                     help="Serve every stack template of a CDK cloud assembly (cdk synth's cdk.out)."),
        click.option("--parameter-overrides", "parameter_overrides", multiple=True, metavar="K=V ...",
                     help="Template parameter values: 'Key=Value Key2=Value2' or "
                          "'ParameterKey=K,ParameterValue=V' (repeatable)."),
        click.option("--env-vars", "env_vars", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     default=None, help="SAM's environment variables JSON file: a Parameters object for "
                                        "every function, and objects per logical id or FunctionName."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _template_source(template: Optional[Path], cdk_out: Optional[Path], parameter_overrides: tuple[str, ...],
                     env_vars: Optional[Path], region: Optional[str]) -> Any:
    """The templates to read, or None without --template/--cdk-out."""
    if template is None and cdk_out is None:
        if parameter_overrides or env_vars:
            raise click.UsageError("--parameter-overrides and --env-vars need --template or --cdk-out")
        return None
    # only now: the template readers (YAML, SAM) cost lamina invoke 30 ms
    from lamina.local.frontends.options import TemplateSource
    from lamina.local.model.names import DEFAULT_REGION
    from lamina.project.cdk import stack_templates
    from lamina.project.overrides import parse_parameter_overrides

    if template is not None and cdk_out is not None:
        raise click.UsageError("give --template or --cdk-out, not both")
    paths = (template,) if template is not None else tuple(stack_templates(cdk_out))  # type: ignore[arg-type]
    return TemplateSource(paths, parse_parameter_overrides(parameter_overrides), region or DEFAULT_REGION,
                          env_vars)


def function_options(command: F) -> F:
    """The flags that describe a function, shared by ``serve`` and ``invoke``."""
    options = [
        click.option("--code", "code", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Code directory (cwd and LAMBDA_TASK_ROOT of the runtime). Default: '.'"),
        click.option("--bootstrap", default=None,
                     help="Command that starts the runtime; the handler is its last argument. "
                          "Default: ./bootstrap in the code directory if executable, else lamina's runtime."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Invocation timeout in seconds (default 3)."),
        click.option("--memory", type=click.IntRange(min=1), default=None,
                     help="Memory size in MB (default 128); above it the environment is killed."),
        click.option("--concurrency", type=click.IntRange(min=1), default=None,
                     help="Execution environments at most, with a queue before them (default: started on "
                          "demand, as Lambda scales, up to the account's concurrency)."),
        click.option("--env", "env", multiple=True, metavar="K=V", help="Environment variable (repeatable)."),
        click.option("--name", default=None, help="Function name (default: 'function')."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def debug_option(command: F) -> F:
    """``--debug-port``, shared by ``serve`` and ``invoke``."""
    option = click.option("--debug-port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
                          help="Run the function's runtime under debugpy on 127.0.0.1:PORT, waiting for the "
                               "debugger (VS Code: the launch.json printed); no timeout while attached.")
    return option(command)


def _with_debugger(config: FunctionConfig, port: Optional[int]) -> FunctionConfig:
    """``config`` with the debugger of ``--debug-port``, and pdb on the terminal ``lamina`` runs in."""
    from lamina.local.environments import debugger

    if sys.stdin.isatty():  # breakpoint() opens pdb there
        config = config.with_changes(debug_terminal=os.ttyname(sys.stdin.fileno()))
    if port is None:
        return config
    try:
        debugger.command(config.command(), port)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--debug-port") from None
    if importlib.util.find_spec("debugpy") is None:
        raise click.UsageError("--debug-port needs debugpy where lamina runs: pip install debugpy")
    click.echo(f"lamina: {config.name} waits for a debugger on 127.0.0.1:{port}; attach with this "
               f"VS Code launch.json:\n{debugger.launch_json(port, config.name)}", err=True)
    return config.with_changes(debug_port=port, max_concurrency=1)  # one environment can hold the port


def _flag_config(handler: Optional[str], code: Optional[Path], bootstrap: Optional[str],
                 timeout: Optional[float], memory: Optional[int], concurrency: Optional[int],
                 env: tuple[str, ...], name: Optional[str], max_concurrency: Optional[int] = None,
                 snap_start: bool = False) -> FunctionConfig:
    environment = environment_option(env)
    code_dir = (code or Path(".")).resolve()
    if not code_dir.is_dir():
        raise click.BadParameter(f"{code_dir} is not a directory", param_hint="--code")
    config = FunctionConfig(name=name or "function", code_dir=code_dir, handler=handler or "",
                            bootstrap=parse_bootstrap(bootstrap), environment=environment,
                            max_concurrency=concurrency, environment_concurrency=max_concurrency,
                            snap_start=snap_start)
    if timeout is not None:
        config = config.with_changes(timeout=timeout)
    if memory is not None:
        config = config.with_changes(memory_mb=memory)
    elif max_concurrency is not None:
        config = config.with_changes(memory_mb=MANAGED_INSTANCES_MIN_MEMORY_MB)
    if not config.handler and config.code_bootstrap() is None:
        raise click.UsageError("no handler: give HANDLER (e.g. app.handler) or an executable ./bootstrap")
    return config


def _overrides(timeout: Optional[float], memory: Optional[int], concurrency: Optional[int],
               bootstrap: Optional[str], max_concurrency: Optional[int] = None,
               snap_start: bool = False, env: tuple[str, ...] = ()) -> dict[str, Any]:
    """The flags given, as project-file keys; ``env`` is added to each function's own variables."""
    variables = environment_option(env)
    given = {"timeout": timeout, "memory": memory, "concurrency": concurrency, "bootstrap": bootstrap,
             "max_concurrency": max_concurrency, "snap_start": snap_start or None, "env": variables or None}
    return {key: value for key, value in given.items() if value is not None}


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9001, show_default=True)
@click.option("--handler", default=None, help="Handler of the function (e.g. app.handler).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".lamina"),
              show_default=True, help="Where deployed functions and layers are kept (lamina deploy, "
                                      "aws lambda create-function).")
@click.option("--http", "http_port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Also answer HTTP on PORT as API Gateway would (routes from the project or template).")
@click.option("--http-format", type=click.Choice(["2.0", "1.0", "url"]), default=None,
              help="Event format for every route: HTTP API 2.0 (default), REST API 1.0, or url "
                   "(a function URL's).")
@template_options
@click.option("--region", default=None,
              help="AWS_REGION of the functions, and the region in their ARNs and in the template's "
                   "AWS::Region. Default: as the AWS CLI resolves it (AWS_REGION, AWS_PROFILE's config), "
                   "else us-east-1.")
@click.option("--eager", is_flag=True, default=False,
              help="Start an execution environment of every function at start-up, not at its first "
                   "invocation (sam local's --warm-containers EAGER).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Recycle a function's environments when its code changes (hot reload).")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None, metavar="N",
              help="Lambda Managed Instances: each environment runs up to N invocations at once "
                   "(AWS_LAMBDA_MAX_CONCURRENCY).")
@click.option("--snapstart", "snap_start", is_flag=True, default=False,
              help="SnapStart: init, run before-snapshot hooks, restore, run after-restore hooks, invoke.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="Let pages of ORIGIN (e.g. http://localhost:5173) call the Lambda API and read its "
                   "answers (CORS); repeatable. Without it, any request with an Origin header is refused.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also accept requests addressed to NAME (the Host header; loopback names, IPs and "
                   "--host are accepted already); repeatable.")
@click.option("--auth", default=None, metavar="KEY:SECRET",
              help="Verify SigV4 signatures: every request must be signed with this access key and "
                   "secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). Without it, Invoke and control-plane "
                   "writes need an AWS Authorization header, unchecked; AWS's emulator path needs none.")
@click.option("--http-cors-origin", "http_cors_origins", multiple=True, metavar="ORIGIN",
              help="With --http: answer CORS for ORIGIN ('*' for any) as API Gateway's CORS setting does; "
                   "repeatable. Default: none (same-origin only).")
@click.option("--s3-endpoint-url", default=None, metavar="URL",
              help="Fetch code given as S3 objects (S3Bucket/S3Key in CreateFunction, UpdateFunctionCode, "
                   "PublishLayerVersion) from this S3-compatible endpoint with the AWS credentials of "
                   "this shell. Without it, such code is refused as Lambda refuses an unreachable bucket.")
@debug_option
@click.option("--debug-function", default=None, metavar="NAME",
              help="With --debug-port: the function to debug (default: the only one served).")
@click.option("--account-concurrency", type=click.IntRange(min=1), default=DEFAULT_ACCOUNT_CONCURRENCY,
              show_default=True, help="Invocations of all functions at once, as the account's concurrency "
                                      "quota (less the functions' reserved concurrency).")
@runtime_options
@function_options
def serve(host: str, port: int, handler: Optional[str], data_dir: Path, http_port: Optional[int],
          http_format: Optional[str], template: Optional[Path], cdk_out: Optional[Path],
          parameter_overrides: tuple[str, ...], env_vars: Optional[Path], region: Optional[str], eager: bool,
          watch: bool, max_concurrency: Optional[int],
          snap_start: bool, allow_origins: tuple[str, ...], allow_hosts: tuple[str, ...], auth: Optional[str],
          http_cors_origins: tuple[str, ...], s3_endpoint_url: Optional[str], code: Optional[Path],
          bootstrap: Optional[str],
          timeout: Optional[float], memory: Optional[int], concurrency: Optional[int], env: tuple[str, ...],
          name: Optional[str], debug_port: Optional[int] = None,
          debug_function: Optional[str] = None, account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
          pythons: tuple[str, ...] = (), no_boto3: bool = False) -> None:
    """Serve functions locally behind the Lambda Invoke API (boto3, the AWS CLI, AWS's emulator path).

    One function from the flags, or every function of the project file (pyproject.toml's
    [tool.lamina.functions.NAME] or lamina.toml) when no --handler/--code/--bootstrap is given.

    Only clients a web page cannot imitate are served: requests must name this server (Host), carry no
    Origin but those of --allow-origin, and sign Invoke and control-plane writes as the AWS SDKs and
    CLI do (checked with --auth).
    """
    from lamina.local.api.access import access_config, parse_credentials
    from lamina.local.frontends.serve import FrontendOptions, frontend_options

    try:
        credentials = parse_credentials(auth) if auth is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--auth") from None
    access = access_config(host, port, allow_origins=allow_origins, allow_hosts=allow_hosts,
                           credentials=credentials)
    frontends = FrontendOptions(host=host, http_port=http_port, payload_format=http_format, watch=watch,
                                data_dir=data_dir, cors_origins=list(http_cors_origins), eager=eager,
                                allow_hosts=list(allow_hosts))
    overrides = _overrides(timeout, memory, concurrency, bootstrap, max_concurrency, snap_start, env)
    python = _python_runtimes(pythons, no_boto3)
    region = _aws_region(region)
    source = _template_source(template, cdk_out, parameter_overrides, env_vars, region)
    if source is not None:
        # The overrides are kept with the template: a reloaded template gets them again.
        functions = frontend_options(frontends, template=source, overrides=overrides, warn=_warn)
    elif handler or code or bootstrap or name:
        functions = [_flag_config(handler, code, bootstrap, timeout, memory, concurrency, env, name,
                                  max_concurrency, snap_start)]
    else:
        project = find_project_file(Path.cwd())
        # no project: serve only what is deployed to the control plane
        functions = [] if project is None else load_functions(project, overrides)
        if project is not None:
            frontend_options(frontends, project=project, warn=_warn)
    if region is not None and source is None:
        functions = [config.with_changes(region=region) for config in functions]
    if debug_port is not None:
        functions = _debugged_function(functions, debug_port, debug_function)
    try:
        event_loop.run(_serve(host, port, functions, data_dir, frontends, access, region, s3_endpoint_url,
                              python, account_concurrency))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _debugged_function(functions: list[FunctionConfig], port: int,
                       name: Optional[str]) -> list[FunctionConfig]:
    names = [config.name for config in functions]
    if name is None and len(names) != 1:
        raise click.UsageError(f"--debug-port: name the function with --debug-function ({', '.join(names)})")
    target = name or names[0]
    if target not in names:
        raise click.BadParameter(f"no function {target!r} is served ({', '.join(names)})",
                                 param_hint="--debug-function")
    return [_with_debugger(config, port) if config.name == target else config for config in functions]


def _warn(line: str) -> None:
    click.echo(line, err=True)


async def _serve(host: str, port: int, functions: list[FunctionConfig], data_dir: Path,
                 frontends: Any = None, access: Any = None, region: Optional[str] = None,
                 s3_endpoint_url: Optional[str] = None, python: Optional[PythonRuntimes] = None,
                 account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY) -> None:
    from lamina.local.server import LocalServer

    sink = ConsoleSink()
    server = LocalServer(functions, host=host, port=port, data_dir=data_dir, sink=sink,
                         frontends=frontends, access=access, region=region, s3_endpoint_url=s3_endpoint_url,
                         python=python, account_concurrency=account_concurrency)
    try:
        server.local.check_reservations()  # a reservation above the account's is refused at start
    except ServiceError as error:
        raise click.ClickException(f"{error.error_type}: {error.message}") from None
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for config in functions:
        sink.write("lamina", f"serving {config.name} ({config.handler or 'bootstrap'}) at "
                             f"http://{host}:{port}/2015-03-31/functions/{config.name}/invocations")
    sink.write("lamina", f"control plane at http://{host}:{port} (lamina deploy --endpoint-url, "
                         f"aws lambda --endpoint-url), deployed functions in {data_dir}")
    try:
        await stop.wait()
    finally:
        await server.stop()
        sink.flush()


def _read_event(event: Optional[str], event_file: Optional[str]) -> bytes:
    if event is not None:
        payload = event.encode()
    elif event_file is not None:
        payload = sys.stdin.buffer.read() if event_file == "-" else Path(event_file).read_bytes()
    elif not sys.stdin.isatty():
        payload = sys.stdin.buffer.read()
    else:
        payload = b""
    payload = payload.strip() or b"{}"
    try:
        json.loads(payload)
    except ValueError as exc:
        raise click.UsageError(f"InvalidRequestContentException: Could not parse request body into json: "
                               f"{exc}") from None
    return payload


@click.command(cls=Command)
@click.argument("handler", required=False)
@click.option("--event", default=None, help="Event as JSON.")
@click.option("--event-file", default=None, type=click.Path(dir_okay=False, allow_dash=True),
              help="File holding the event ('-' for stdin). Default: stdin when it is not a terminal.")
@click.option("--remote", metavar="NAME", default=None,
              help="Invoke the deployed function NAME (AWS, or --endpoint-url) instead of a local handler.")
@click.option("--endpoint-url", default=None, help="With --remote: a Lambda-compatible endpoint.")
@click.option("--region", default=None, help="AWS region (with --remote: of the deployed function).")
@click.option("--profile", default=None, help="With --remote: AWS profile.")
@template_options
@debug_option
@runtime_options
@function_options
def invoke(handler: Optional[str], event: Optional[str], event_file: Optional[str], remote: Optional[str],
           endpoint_url: Optional[str], region: Optional[str], profile: Optional[str],
           template: Optional[Path], cdk_out: Optional[Path], parameter_overrides: tuple[str, ...],
           env_vars: Optional[Path], code: Optional[Path],
           bootstrap: Optional[str], timeout: Optional[float], memory: Optional[int],
           concurrency: Optional[int], env: tuple[str, ...], name: Optional[str],
           debug_port: Optional[int] = None, pythons: tuple[str, ...] = (), no_boto3: bool = False) -> None:
    """Invoke HANDLER once, as Lambda would: result on stdout, logs on stderr.

    With --template or --cdk-out, HANDLER names a function of the template instead: its logical id, its
    FunctionName, or Child/Function inside a nested application. Exits 1 (with the error document on
    stdout) when the function fails.
    """
    if remote is not None:
        from lamina.deploy import remote_invoke

        sys.exit(remote_invoke.main(remote, _read_event(event, event_file), endpoint_url, region, profile))
    python = _python_runtimes(pythons, no_boto3)
    region = _aws_region(region)
    source = _template_source(template, cdk_out, parameter_overrides, env_vars, region)
    if source is not None:
        config = _template_function(source, handler, _overrides(timeout, memory, concurrency, bootstrap,
                                                                env=env))
    else:
        config = _flag_config(handler, code, bootstrap, timeout, memory, concurrency, env, name)
        if region is not None:
            config = config.with_changes(region=region)
    payload = _read_event(event, event_file)
    config = _with_debugger(config, debug_port)
    body, failed = event_loop.run(_invoke_once(config, payload, python), fast_loop=False)
    sys.stdout.buffer.write(body + b"\n")
    _exit(1 if failed else 0)


def _exit(status: int) -> None:
    """End ``lamina invoke`` now that everything it started is stopped and its output written.

    Run as the ``lamina`` command, the process skips the interpreter's teardown of the modules it
    imported (aiohttp's alone takes about 0.15 s): the answer is already out, and nothing is left to
    clean. Called in process (a test's CliRunner), it exits as usual.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    launcher = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if launcher.name == "lamina" or launcher.parent.name == "lamina":
        os._exit(status)
    if status:
        sys.exit(status)


def _template_function(source: Any, identifier: Optional[str], overrides: dict[str, Any]) -> FunctionConfig:
    """The function of a template that ``lamina invoke --template T FUNCTION`` names."""
    from lamina.local.frontends.options import FrontendOptions, frontend_options

    options = FrontendOptions()
    functions = frontend_options(options, template=source, overrides=overrides, warn=_warn)
    by_name = {config.name: config for config in functions}
    if identifier is None and len(functions) == 1:
        return functions[0]
    if identifier is None:
        raise click.UsageError(f"name the function to invoke: one of {', '.join(sorted(by_name))}")
    aliases = options.aliases
    config = by_name.get(identifier) or by_name.get(aliases.get(identifier, ""))
    if config is None:
        raise click.UsageError(f"{identifier} is not a function of the template (functions: "
                               f"{', '.join(sorted({*by_name, *aliases}))})")
    return config


async def _invoke_once(config: FunctionConfig, payload: bytes,
                       python: Optional[PythonRuntimes] = None) -> tuple[bytes, bool]:
    sink = ConsoleSink()
    local = LocalLambda(sink=sink, python=python)
    local.registry.put(config)
    try:
        async with local:
            result = await local.invoke(config.name, payload)
    except ServiceError as error:
        return json.dumps({"errorType": error.error_type, "errorMessage": error.message}).encode(), True
    finally:
        sink.flush()
    return result.payload, result.function_error is not None
