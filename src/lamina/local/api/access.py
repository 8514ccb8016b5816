"""Who may call ``lamina serve``'s Lambda APIs: requests a browser page cannot make.

A web page can make the browser send a "simple" request (``POST`` with ``Content-Type: text/plain``,
no custom headers) to any address, ``127.0.0.1`` included, and, after DNS rebinding, read the answer
through a name of its own. The Invoke API and the control plane run code and hand out variables, so
they accept only what such a page cannot produce:

- a ``Host`` that names the address lamina listens on (loopback names and IPs, the address it was told
  to bind, ``--allow-host``): a rebound page always sends its own name;
- no ``Origin``, or one given with ``--allow-origin``: browsers add it to cross-origin requests, and to
  every ``POST``;
- an AWS ``Authorization`` header (SigV4, as boto3 and the AWS CLI send it) on Invoke, on
  InvokeWithResponseStream and on every control-plane write: a page cannot set it without a CORS
  preflight, which the origin rule refuses. Its signature is checked only with ``--auth KEY:SECRET``
  (:func:`verify_signature`, botocore's signer as the reference); then every request but the code
  downloads must be signed with that key.

AWS's emulator path (``/2015-03-31/functions/function/invocations``) is the one exception to the
signing rule: scripts written for the emulator call it with curl, unsigned. It keeps the host and
origin rules.

Pure: :func:`check` takes the method, path and headers and returns ``None`` or the
:class:`ServiceError` to answer; the aiohttp side is :mod:`lamina.local.api.middleware`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

from lamina.local.model import service_errors as errors
from lamina.local.model.service_errors import ServiceError

__all__ = ["AccessConfig", "Credentials", "access_config", "check", "host_allowed", "is_preflight",
           "origin_allowed", "parse_credentials", "signature_required", "verify_signature"]

EMULATOR_PATH = "/2015-03-31/functions/function/invocations"
CODE_PREFIX = "/_lamina/code/"  # content-addressed zips the control plane hands out as Code.Location
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")
_SAFE_METHODS = frozenset({"GET", "HEAD"})  # reads; Invoke and every control-plane write are not
_SCHEME = "AWS4-HMAC-SHA256"
_PARTS = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_STAMP = "%Y%m%dT%H%M%SZ"  # X-Amz-Date
_MAX_SKEW = datetime.timedelta(minutes=15)  # AWS refuses signatures older (or newer) than this


@dataclass(frozen=True)
class Credentials:
    """The one access key ``lamina serve --auth KEY:SECRET`` accepts."""

    access_key: str
    secret_key: str


@dataclass(frozen=True)
class AccessConfig:
    """What :func:`check` accepts; built by :func:`access_config`."""

    hosts: frozenset[str]  # Host header values, lowercased, with the port
    any_ip_host: bool  # bound to a wildcard address: any IP literal (rebinding always sends a name)
    origins: frozenset[str]  # Origin header values, lowercased
    credentials: Optional[Credentials] = None
    names: frozenset[str] = frozenset()  # --port 0 (any free port): the names, whatever the port


def parse_credentials(value: str) -> Credentials:
    """``KEY:SECRET`` as ``--auth`` takes it; raises ValueError."""
    key, sep, secret = value.partition(":")
    if not sep or not key or not secret:
        raise ValueError("expected ACCESS_KEY:SECRET_KEY")
    return Credentials(key, secret)


def _host(name: str, port: int) -> str:
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 address as it appears in Host
    return f"{name.lower()}:{port}"


def access_config(host: str, port: int, *, allow_origins: Iterable[str] = (), allow_hosts: Iterable[str] = (),
                  credentials: Optional[Credentials] = None) -> AccessConfig:
    """The rules for a server listening on ``host:port``."""
    names = [*LOOPBACK_NAMES, host, *allow_hosts]
    hosts = {_host(name, port) for name in names if name not in _WILDCARDS}
    # The names without a port too (a client may leave it out): a rebinding page sends its own name.
    hosts |= {_host(name, 0)[:-2] for name in names if name not in _WILDCARDS}
    origins = frozenset(origin.lower().rstrip("/") for origin in allow_origins)
    names_any_port = frozenset(_host(name, 0)[:-2] for name in names if name not in _WILDCARDS) if port == 0 \
        else frozenset()
    return AccessConfig(frozenset(hosts), host in _WILDCARDS, origins, credentials, names_any_port)


def host_allowed(host: str, config: AccessConfig, localhost_names: bool = False) -> bool:
    """Whether ``host`` (a Host header) names this server. ``localhost_names``: also any
    ``*.localhost`` name (RFC 6761 keeps those on this machine: no page can rebind one to itself)."""
    host = host.lower()
    if localhost_names and host.rpartition(":")[0].endswith(".localhost"):
        return True
    if host in config.hosts:
        return True
    if config.names and host.rpartition(":")[0] in config.names:
        return True
    return config.any_ip_host and _ip_literal(host)


def _ip_literal(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A CORS preflight: what a browser asks before a request a page may not send on its own."""
    return method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers


def check(method: str, path: str, headers: Mapping[str, str], config: AccessConfig) -> Optional[ServiceError]:
    """``None`` if the request may go on, else the refusal to answer. ``headers``: case-insensitive."""
    host = headers.get("Host")
    if host is not None and not host_allowed(host, config):
        return errors.access_denied(f"Host '{host}' is not an address this lamina serve listens on; "
                                    "use one of its loopback addresses or allow it with --allow-host")
    origin = headers.get("Origin")
    if origin is not None and not origin_allowed(origin, config):
        return errors.access_denied(f"Origin '{origin}' is not allowed to call the Lambda API; "
                                    "allow it with lamina serve --allow-origin")
    if is_preflight(method, headers):
        return None  # an allowed origin's preflight: answered by the middleware, never signed
    if not signature_required(method, path, config):
        return None
    authorization = headers.get("Authorization")
    if authorization is None:
        return errors.missing_authentication_token()
    return _signature_shape(authorization, headers)


def origin_allowed(origin: str, config: AccessConfig) -> bool:
    return origin.lower().rstrip("/") in config.origins


def signature_required(method: str, path: str, config: AccessConfig) -> bool:
    """Whether the request must carry SigV4 (and, with ``--auth``, a valid one)."""
    if path.startswith(CODE_PREFIX):
        return False
    if config.credentials is not None:
        return True
    if path == EMULATOR_PATH:
        return False
    return method not in _SAFE_METHODS


def _signature_shape(authorization: str, headers: Mapping[str, str]) -> Optional[ServiceError]:
    """IncompleteSignatureException unless the header has SigV4's parts (AWS's sentences)."""
    found = dict(_PARTS.findall(authorization)) if authorization.startswith(_SCHEME + " ") else {}
    missing = [f"Authorization header requires '{part}' parameter."
               for part in ("Credential", "Signature", "SignedHeaders") if not found.get(part)]
    if "X-Amz-Date" not in headers and "Date" not in headers:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    return errors.incomplete_signature(missing, authorization) if missing else None


def verify_signature(method: str, raw_path_qs: str, headers: Mapping[str, str],
                     all_headers: Iterable[tuple[str, str]], body: bytes, credentials: Credentials,
                     now: Optional[datetime.datetime] = None) -> Optional[ServiceError]:
    """Recompute the request's SigV4 signature with botocore's signer; ``None`` if it matches.

    ``raw_path_qs``: the path and query exactly as sent (still percent-encoded); ``all_headers``:
    every header line (repeated ones are joined, as the signer joins them); ``body``: the whole body,
    whose SHA-256 the signature covers.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    parts = dict(_PARTS.findall(headers.get("Authorization", "")))
    scope = parts.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return errors.incomplete_signature(["Credential should be scoped to a valid region."],
                                           headers.get("Authorization", ""))
    access_key, date, region, service, _ = scope
    if not hmac.compare_digest(access_key.encode(), credentials.access_key.encode()):
        return errors.unrecognized_client()
    timestamp = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.datetime.strptime(timestamp, _STAMP).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return errors.invalid_signature()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - signed_at) > _MAX_SKEW or not timestamp.startswith(date):
        return errors.signature_expired(timestamp, (now - _MAX_SKEW).strftime(_STAMP), now.strftime(_STAMP))
    signed = [name for name in parts.get("SignedHeaders", "").split(";") if name]
    if "host" not in signed:
        return errors.invalid_signature()
    lines: dict[str, list[str]] = {}
    for name, value in all_headers:
        if name.lower() in signed:
            lines.setdefault(name.lower(), []).append(value)
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and not hmac.compare_digest(declared, hashlib.sha256(body).hexdigest()):
        return errors.invalid_signature()  # a signed hash of some other body
    request = AWSRequest(method=method, url=f"http://{headers.get('Host', '')}{raw_path_qs}",
                         headers={name: ",".join(values) for name, values in lines.items()}, data=body)
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(BotoCredentials(credentials.access_key, credentials.secret_key), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, parts.get("Signature", "")):
        return errors.invalid_signature()
    return None
