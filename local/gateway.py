"""The local HTTP front: API Gateway HTTP API (payload v2.0) + JWT authorizer + OAuth2 token endpoint.

A werkzeug WSGI app served threaded on 127.0.0.1. For every request it does what the
HTTP API does, in the same order:
1. match the route (method + path with `{param}` / `{proxy+}` segments); no match → 404.
   A known path with another method is also 404, as in API Gateway (which answers
   `{"message": "Not Found"}`; we answer the IMS body of the product contract).
2. run the JWT authorizer (`local.auth.Issuer.verify`): 401 missing/invalid/expired token,
   403 missing scope. The handler is never called for a request that fails here.
3. enforce the body limit: 1 MiB locally (the HTTP API's own limit is 10 MB; a smaller
   local limit surfaces oversized requests early) → 413 without calling the handler.
4. build the v2.0 event, invoke the route's function through the invoker (the local stack:
   its worker pools, `local.workers`; by default in-process, `local.lambda_dispatch`) and map
   the result back to HTTP with the v2 rules (a dict with `statusCode` is a full response;
   anything else is a 200 JSON "simple response").
   When the invocation fails — the handler raised, its worker ran past the function's Timeout
   (`Sandbox.Timedout`) or died, no worker became free (throttled), or the result is not a
   valid response — the answer is what the HTTP API answers for a failed Lambda integration:
   500 ("Internal Server Error"; AWS documents it for function errors, timeouts and throttles
   alike), here with the IMS body every error of the product carries. The error type is logged.

Plus `POST /oauth2/token` (client credentials, Cognito-like answers),
`GET /.well-known/jwks.json`, and the local-only `GET /_local/invocations[?function=NAME]`:
every recent invocation (function, request id, worker pid, start/end epoch seconds, outcome,
cold start) — no events, no results.

Every request is logged on one line; the method and path are escaped (`local.logs.printable`)
so a percent-encoded CR/LF or other control character cannot split or forge a log line.

Differences from AWS worth knowing: JWT claims in the event are stringified the way the
HTTP API does it (numbers as decimal strings, lists as "[a b]"); `pathParameters` are
percent-decoded; no throttling, CORS or custom domains.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from exttests.api.errors import ims_body
from local import lambda_dispatch
from local.auth import AuthError, Issuer, OAuthError
from local.lambda_dispatch import FunctionSpec, Invoker, Outcome
from local.logs import printable

log = logging.getLogger("local.gateway")

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_ACCOUNT_ID = "123456789012"
INVOCATIONS_PATH = "/_local/invocations"


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def ims_error(status: int, description: str) -> Response:
    return _json_response(status, ims_body(status, description))


# --- routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str  # upper case; "ANY" matches every method
    path: str  # API Gateway path template, e.g. /items/{id}
    functions_dir: Path
    function_name: str
    scopes: tuple[str, ...] = ()
    auth: bool = True  # False only for an explicit `Authorizer: NONE`
    timeout_seconds: float = 29.0
    memory_mb: int = 128
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{([A-Za-z0-9_.-]+)\+\}", segment)
            single = re.fullmatch(r"\{([A-Za-z0-9_.-]+)\}", segment)
            if greedy:
                parts.append(f"(?P<{_group(greedy.group(1))}>.+)")
            elif single:
                parts.append(f"(?P<{_group(single.group(1))}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        object.__setattr__(self, "_pattern", re.compile("^/" + "/".join(parts) + "$"))

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def function(self, account_id: str = DEFAULT_ACCOUNT_ID) -> FunctionSpec:
        return FunctionSpec(
            self.function_name,
            self.functions_dir,
            self.timeout_seconds,
            self.memory_mb,
            lambda_dispatch.function_arn(self.function_name, account_id=account_id),
        )

    def match(self, raw_path: str) -> dict[str, str] | None:
        found = self._pattern.match(raw_path)
        if found is None:
            return None
        names = re.findall(r"\{([A-Za-z0-9_.-]+)\+?\}", self.path)
        return {name: urllib.parse.unquote(found.group(_group(name))) for name in names}


def _group(name: str) -> str:
    return "p_" + "".join(c if c.isalnum() else "_" for c in name)


def routes_from_template(
    template: Mapping[str, Any],
    root: str | Path,
    function_names: Mapping[str, str] | None = None,
) -> list[Route]:
    """One Route per `HttpApi` event of every `AWS::Serverless::Function`.

    Scopes come from the event's `Auth.AuthorizationScopes` (a `!Ref` to a Parameter
    resolves to its Default), else from the API's authorizer definition.
    """
    from local.aws_resources import Resolver, resources_of_type

    resolver = Resolver(template)
    apis = dict(resources_of_type(template, "AWS::Serverless::HttpApi"))
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    routes: list[Route] = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function"):
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri")
        for event in (props.get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi" or not isinstance(code_uri, str):
                continue
            eprops = event.get("Properties") or {}
            api_id = eprops.get("ApiId")
            api_auth: Mapping[str, Any] = {}
            if isinstance(api_id, dict) and api_id.get("Ref") in apis:
                api_auth = (apis[api_id["Ref"]].get("Properties") or {}).get("Auth") or {}
            elif len(apis) == 1:
                api_auth = (next(iter(apis.values())).get("Properties") or {}).get("Auth") or {}
            auth = eprops.get("Auth") or {}
            authorizer = auth.get("Authorizer") or api_auth.get("DefaultAuthorizer")
            scopes = auth.get("AuthorizationScopes")
            if scopes is None and authorizer:
                scopes = ((api_auth.get("Authorizers") or {}).get(authorizer) or {}).get(
                    "AuthorizationScopes"
                )
            routes.append(
                Route(
                    method=str(eprops.get("Method", "ANY")).upper(),
                    path=str(eprops.get("Path", "/")),
                    functions_dir=(Path(root) / code_uri).resolve(),
                    function_name=(function_names or {}).get(logical_id, logical_id),
                    scopes=tuple(str(resolver.resolve(s)) for s in (scopes or ())),
                    # A route without any authorizer is still protected locally: being
                    # stricter than the template is safe, being laxer would hide a gap.
                    auth=authorizer != "NONE",
                    timeout_seconds=float(props.get("Timeout", globals_fn.get("Timeout", 3))),
                    memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
                )
            )
    return routes


# --- the event -----------------------------------------------------------------------------


def _stringify_claim(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_stringify_claim(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _raw_path_and_query(request: Request) -> tuple[str, str]:
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw_uri:
        path, _, query = str(raw_uri).partition("?")
        if path.startswith(("http://", "https://")):
            path = urllib.parse.urlsplit(path).path
        return path or "/", query
    # The werkzeug test client has no raw URI: rebuild it from the decoded environ.
    path = urllib.parse.quote(request.path, safe="/:@!$&'()*+,;=-._~%")
    return path, request.environ.get("QUERY_STRING", "")


def _query_parameters(raw_query: str) -> dict[str, str]:
    # API Gateway joins the values of a repeated key with a comma, in request order.
    params: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in params.items()}


def build_event(
    request: Request,
    route: Route,
    path_parameters: Mapping[str, str],
    body: bytes,
    claims: Mapping[str, Any] | None,
    *,
    api_id: str = "local",
    account_id: str = DEFAULT_ACCOUNT_ID,
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    raw_path, raw_query = _raw_path_and_query(request)
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    cookie_header = headers.pop("cookie", None)
    remote = request.remote_addr or "127.0.0.1"
    headers.setdefault("x-forwarded-for", remote)
    headers.setdefault("x-forwarded-proto", request.scheme)
    host = headers.get("host", "localhost")
    headers.setdefault("x-forwarded-port", host.rpartition(":")[2] if ":" in host else "80")
    now = datetime.now(UTC)
    request_id = base64.b64encode(secrets.token_bytes(10)).decode().rstrip("=") + "="
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": remote,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.replace(",", ";").split(";") if c.strip()]
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if claims is not None:
        event["requestContext"]["authorizer"] = {
            "jwt": {
                "claims": {k: _stringify_claim(v) for k, v in claims.items()},
                "scopes": str(claims.get("scope", "")).split() or None,
            }
        }
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def response_from_result(result: Any) -> Response:
    """Map a handler's return value to HTTP with the payload v2.0 rules."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # "Simple response": API Gateway assumes 200, JSON, body = the function's JSON output.
        return Response(json.dumps(result), status=200, content_type="application/json")
    status = int(result["statusCode"])
    raw_body = result.get("body")
    if raw_body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(str(raw_body), validate=True)
    elif isinstance(raw_body, str):
        data = raw_body.encode("utf-8")
    else:
        # A non-string body is a malformed integration response in AWS (500).
        raise TypeError(f"handler body must be a string, got {type(raw_body).__name__}")
    response = Response(data, status=status)
    response.headers.pop("Content-Type", None)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            response.headers.add(key, str(value))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    if "Content-Type" not in response.headers and data:
        response.headers["Content-Type"] = "application/json"
    return response


# --- the app -------------------------------------------------------------------------------


class Gateway:
    """The WSGI app plus a threaded server on 127.0.0.1.

    `issuer` both answers `/oauth2/token` and verifies bearer tokens; with `issuer=None`
    every protected route answers 401 (there is no way to get a token). `invoker` runs the
    functions (default: in-process).
    """

    def __init__(
        self,
        routes: Sequence[Route],
        issuer: Issuer | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = MAX_BODY_BYTES,
        api_id: str = "local",
        account_id: str = DEFAULT_ACCOUNT_ID,
        invoker: Invoker | None = None,
    ) -> None:
        self.routes = list(routes)
        self.issuer = issuer
        self.invoker: Invoker = invoker or lambda_dispatch.InProcessInvoker()
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self.api_id = api_id
        self.account_id = account_id
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        # Local-only GET routes without auth (the stack adds its own: events, the OpenAPI document).
        self.local_routes: dict[str, Callable[[Request], Any]] = {}

    # --- server lifecycle ---

    def bind(self) -> Gateway:
        """Open the socket (so `url` is known) without serving yet."""
        if self._server is None:
            self._server = make_server(self.host, self.port, self, threaded=True)
            self.port = self._server.server_port
        return self

    def serve(self) -> Gateway:
        self.bind()
        if self._thread is None:
            assert self._server is not None
            self._thread = threading.Thread(
                # A short poll interval keeps stop() (and so every test's teardown) fast.
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="local-gateway",
                daemon=True,
            )
            self._thread.start()
        return self

    start = serve

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=10)
            self._server.server_close()
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- WSGI ---

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.monotonic()
        response = self.dispatch(request)
        log.info(
            "%s %s -> %d (%.0f ms)",
            printable(request.method),
            printable(request.path),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path == "/oauth2/token":
            return self._token(request)
        if request.path == "/.well-known/jwks.json" and request.method == "GET" and self.issuer is not None:
            return _json_response(200, self.issuer.jwks())
        if request.method == "GET" and request.path in self.local_routes:
            return _json_response(200, self.local_routes[request.path](request))
        if request.path == INVOCATIONS_PATH and request.method == "GET":
            entries = self.invoker.log.entries(request.args.get("function"))
            return _json_response(200, {"invocations": [entry.to_json() for entry in entries]})
        raw_path, _ = _raw_path_and_query(request)
        matched = self._match(request.method, raw_path)
        if matched is None:
            return ims_error(404, f"no route for {request.method} {request.path}")
        route, path_parameters = matched

        claims: dict[str, Any] | None = None
        if route.auth:
            if self.issuer is None:
                return ims_error(401, "Unauthorized")
            try:
                claims = self.issuer.verify(request.headers.get("Authorization"), route.scopes)
            except AuthError as exc:
                return ims_error(exc.status, exc.message)

        body = self._read_body(request)
        if body is None:
            return ims_error(413, f"request body larger than {self.max_body_bytes} bytes")

        event = build_event(
            request, route, path_parameters, body, claims, api_id=self.api_id, account_id=self.account_id
        )
        return self._invoke(route, event)

    def _invoke(self, route: Route, event: dict[str, Any]) -> Response:
        try:
            outcome = self.invoker.invoke(route.function(self.account_id), event)
        except lambda_dispatch.Throttled as exc:
            log.error("%s: the function was throttled: %s", route.route_key, exc)
            return ims_error(500, "internal server error")
        except Exception:
            log.exception("%s: the function could not be invoked", route.route_key)
            return ims_error(500, "internal server error")
        if outcome.failed:
            log.error("%s: the function failed:%s", route.route_key, _describe_failure(outcome))
            return ims_error(500, "internal server error")
        try:
            return response_from_result(outcome.value())
        except (ValueError, TypeError, binascii.Error) as exc:
            log.error("%s: malformed Lambda response: %s", route.route_key, exc)
            return ims_error(500, "internal server error")

    def _match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        # Exact paths win over templated ones, as in API Gateway's most-specific-match rule.
        candidates = sorted(self.routes, key=lambda r: ("{" in r.path, r.method == "ANY"))
        for route in candidates:
            if route.method not in (method, "ANY"):
                continue
            params = route.match(raw_path)
            if params is not None:
                return route, params
        return None

    def _read_body(self, request: Request) -> bytes | None:
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return None
        stream = request.stream
        data = stream.read(self.max_body_bytes + 1)
        if len(data) > self.max_body_bytes:
            return None
        return bytes(data)

    # --- OAuth2 token endpoint ---

    def _token(self, request: Request) -> Response:
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if request.method != "POST":
            return _json_response(405, {"error": "invalid_request"}, {"Allow": "POST", **no_store})
        if self.issuer is None:
            return _json_response(400, {"error": "invalid_client"}, no_store)
        form = request.form
        client_id, client_secret = _basic_credentials(request.headers.get("Authorization"))
        if client_id is None:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        grant_type = form.get("grant_type")
        if not grant_type:
            return _json_response(400, {"error": "invalid_request"}, no_store)
        if grant_type != "client_credentials":
            return _json_response(400, {"error": "unsupported_grant_type"}, no_store)
        if not client_id or client_secret is None:
            return _json_response(400, {"error": "invalid_client"}, no_store)
        try:
            token = self.issuer.token(client_id, client_secret, form.get("scope"))
        except OAuthError as exc:
            return _json_response(exc.status, {"error": exc.error}, no_store)
        return _json_response(200, token, no_store)


def _describe_failure(outcome: Outcome) -> str:
    """The error type, message and stack trace of a failed invocation, for the log."""
    try:
        error = outcome.value()
    except ValueError:
        return " (unreadable error payload)"
    if not isinstance(error, dict):
        return f" {outcome.error_type}"
    trace = "".join(str(line) for line in error.get("stackTrace") or [])
    return f" {error.get('errorType')}: {error.get('errorMessage')}" + (f"\n{trace}" if trace else "")


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    # RFC 6749 §2.3.1: both parts are form-urlencoded inside the Basic header.
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
