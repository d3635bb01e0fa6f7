"""The dashboard's web app: pages, the fragments they poll, and four actions (upload, retry, redrive, delete).

Pages are rendered on the server with Jinja2, autoescaping every template, so object keys and
EXIF strings always reach the browser as text. A few lines of plain JavaScript poll fragments
(live updates without reloading) and post the actions. Every read and action goes through
`qip.client.pipeline.Pipeline`, the same API as the command line's.

Guards, since anything on the machine's browser can send requests to 127.0.0.1: the Host header
must be a name of this server (a DNS-rebinding page carries its own), and actions need the
dashboard's own request header, which a page of another origin cannot send without a CORS
preflight that this app never grants. The page gets presigned object URLs, never credentials.
"""

from __future__ import annotations

import re
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPResponse
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from jinja2 import Environment, FileSystemLoader
from markupsafe import escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from qip.client import listing
from qip.client.errors import ConflictError, NotFoundError
from qip.client.pipeline import Pipeline
from qip.core import aws
from qip.core.errors import QipError
from qip.core.model import DELETED, FAILED, STATUSES, TERMINAL
from qip.dashboard import charts, present, stats

HERE = Path(__file__).parent
ACTION_HEADER = "x-qip-dashboard"  # sent by dashboard.js on every action
PAGE_SIZE = 25
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


def create_app(pipeline: Pipeline, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
               relay: bool | None = None) -> Starlette:
    """The ASGI app for one stack; `hosts` are the names the browser may use to reach it.

    `relay` (default: only for an engine with its own TLS certificate) passes presigned URLs
    through the dashboard; otherwise the browser fetches them from the object store itself.
    """
    certificate = aws.trusted_certificate(pipeline.stack.endpoint_url)
    relay = bool(certificate) if relay is None else relay
    dashboard = Dashboard(pipeline, relay, certificate)
    routes = [
        Route("/", dashboard.overview_page),
        Route("/images", dashboard.images_page),
        Route("/image", dashboard.image_page),
        Route("/upload", dashboard.upload_page),
        Route("/dead-letters", dashboard.dead_letters_page),
        Route("/fragments/overview", dashboard.overview_fragment),
        Route("/fragments/images", dashboard.images_fragment),
        Route("/fragments/image", dashboard.image_fragment),
        Route("/fragments/badge", dashboard.badge_fragment),
        Route("/fragments/dead-letters", dashboard.dead_letters_fragment),
        Route("/api/upload", dashboard.upload, methods=["POST"]),
        Route("/api/retry", dashboard.retry, methods=["POST"]),
        Route("/api/redrive", dashboard.redrive, methods=["POST"]),
        Route("/api/delete", dashboard.delete, methods=["POST"]),
        Route("/relay", dashboard.relay),
        Route("/healthz", lambda request: PlainTextResponse("ok")),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts)),
                  Middleware(SecurityHeaders, image_origins="" if relay else _image_origins(pipeline))]
    handlers: dict[int | type[Exception], ExceptionHandler] = {
        404: dashboard.not_found, QipError: error_response, ClientError: error_response, BotoCoreError: error_response}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


class Dashboard:
    """Request handlers bound to one pipeline. Sync handlers run in Starlette's thread pool."""

    def __init__(self, pipeline: Pipeline, relay: bool = False, certificate: str | None = None) -> None:
        self.pipeline = pipeline
        self.links = present.Links(pipeline.presign, relay)
        self._relay = relay
        self._opener = urllib.request.build_opener(  # straight to the engine: no proxy, its own certificate
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=certificate)))
        # boto3 resources (the store's table) are not thread-safe: reads take turns.
        self._lock = threading.Lock()
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)
        env.filters.update(size=present.human_size, when=present.short_time, clock=present.clock,
                           ms=charts.format_ms, age=_age)
        env.globals.update(statuses=STATUSES, stack=pipeline.stack, image_url=_image_url)
        self.templates = Jinja2Templates(env=env)

    # ------------------------------------------------------------------ pages
    def overview_page(self, request: Request) -> Response:
        return self._render(request, "overview.html", self._overview(), page="overview")

    def images_page(self, request: Request) -> Response:
        return self._render(request, "images.html", self._images(request), page="images")

    def image_page(self, request: Request) -> Response:
        return self._render(request, "image.html", self._image(request), page="images")

    def upload_page(self, request: Request) -> Response:
        return self._render(request, "upload.html", {}, page="upload")

    def dead_letters_page(self, request: Request) -> Response:
        return self._render(request, "dead_letters.html", self._dead_letters(), page="dead-letters")

    # ------------------------------------------------------------------ fragments (polled)
    def overview_fragment(self, request: Request) -> Response:
        return self._render(request, "fragments/overview.html", self._overview())

    def images_fragment(self, request: Request) -> Response:
        return self._render(request, "fragments/images.html", self._images(request))

    def image_fragment(self, request: Request) -> Response:
        return self._render(request, "fragments/image.html", self._image(request))

    def badge_fragment(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        with self._lock:
            record = self.pipeline.store.get(key)
        return self._render(request, "fragments/badge.html", {"status": record["status"] if record else "WAITING"})

    def dead_letters_fragment(self, request: Request) -> Response:
        return self._render(request, "fragments/dead_letters.html", self._dead_letters())

    # ------------------------------------------------------------------ actions
    async def upload(self, request: Request) -> Response:
        _require_action_header(request)
        form = await request.form(max_files=100)
        prefix = str(form.get("prefix") or "")
        files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
        if not files:
            return JSONResponse({"error": "no file in the request"}, status_code=400)
        uploaded = []
        with tempfile.TemporaryDirectory(prefix="qip-dashboard-") as folder:
            for index, upload in enumerate(files):
                name = _UNSAFE_NAME.sub("", Path(upload.filename or "").name)
                if not name:
                    return JSONResponse({"error": "a file has no name"}, status_code=400)
                key = prefix + name
                # The temporary file keeps only the extension: it decides the content type.
                path = Path(folder) / f"upload-{index}{Path(name).suffix.lower()}"
                path.write_bytes(await upload.read())
                await run_in_threadpool(self.pipeline.upload, path, key)
                uploaded.append({"key": key, "detail": _image_url(key)})
        return JSONResponse({"uploaded": uploaded})

    def retry(self, request: Request) -> Response:
        _require_action_header(request)
        key = request.query_params.get("key", "")
        with self._lock:
            pointer = self.pipeline.retry(key)
        return JSONResponse({"message": f"Sent back to the processing queue as attempt {pointer.attempt}.",
                             "attempt": pointer.attempt})

    def delete(self, request: Request) -> Response:
        """Erase the image (the browser asked for confirmation first), as `qip delete --yes` does."""
        _require_action_header(request)
        key = request.query_params.get("key", "")
        with self._lock:
            result = self.pipeline.delete(key)
        return JSONResponse({"message": f"Erased: {result['archive_versions']} archive object version(s) and "
                                        f"{'the upload' if result['upload'] else 'no upload'} removed.",
                             **result})

    def redrive(self, request: Request) -> Response:
        _require_action_header(request)
        with self._lock:
            result = self.pipeline.redrive()
        message = f"Moved {len(result.moved)} message(s) back to the processing queue."
        if result.kept:
            message += f" {result.kept} undelivered upload event(s) are not pipeline messages and stay."
        return JSONResponse({"message": message, "moved": result.moved, "kept": result.kept})

    def relay(self, request: Request) -> Response:
        """Fetch a presigned URL of the stack's engine for the browser, and pass the answer on.

        The local engine serves HTTPS with a certificate made for it, which browsers do not trust,
        so they could not load its presigned URLs. Only URLs on the engine's own endpoint are
        fetched (this is no open proxy), and the presigned URL stays the only permission.
        """
        url = request.query_params.get("url", "")
        endpoint = self.pipeline.stack.endpoint_url or ""
        if not self._relay or not endpoint or not url.startswith(endpoint.rstrip("/") + "/"):
            return PlainTextResponse("not a URL of this stack's object store", status_code=404)
        try:
            answer = self._opener.open(urllib.request.Request(url), timeout=30)  # noqa: S310 - https URL, checked above
        except urllib.error.HTTPError as error:
            return PlainTextResponse(f"the object store answered {error.code}", status_code=error.code)
        except OSError as error:
            return PlainTextResponse(f"the object store did not answer: {error}", status_code=502)
        headers = {"Cache-Control": "private, max-age=300"}
        if answer.headers.get("Content-Length"):
            headers["Content-Length"] = answer.headers["Content-Length"]
        return StreamingResponse(_chunks(answer), media_type=answer.headers.get("Content-Type"), headers=headers)

    # ------------------------------------------------------------------ data
    def _overview(self) -> dict[str, Any]:
        with self._lock:
            overview = stats.overview(self.pipeline)
        return {"overview": overview, "throughput": charts.throughput_chart(overview.minutes),
                "latency": charts.latency_chart(overview.latency)}

    def _images(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        status = params.get("status", "").upper() or None
        date = params.get("date") or None
        query = listing.Query(status if status in STATUSES else None, date if date and _DATE.match(date) else None,
                             params.get("prefix") or None)
        error = None
        with self._lock:
            try:
                page = listing.browse(self.pipeline.store, query, PAGE_SIZE, params.get("token") or None)
            except listing.BadToken as bad:
                page, error = listing.browse(self.pipeline.store, query, PAGE_SIZE), str(bad)
        rows = [{"record": r, "thumbnail": self.links.url(present.thumbnail_uri(r))} for r in page.items]
        filters = {k: v for k, v in (("status", query.status), ("date", query.date), ("prefix", query.prefix)) if v}
        return {"rows": rows, "query": query, "error": error, "filters": urlencode(filters),
                "next": urlencode({**filters, "token": page.next_token}) if page.next_token else None,
                "first_page": not params.get("token"),
                "fragment_url": "/fragments/images?" + urlencode({**filters, **({"token": params["token"]}
                                                                                if params.get("token") else {})})}

    def _image(self, request: Request) -> dict[str, Any]:
        key = request.query_params.get("key", "")
        with self._lock:
            record = self.pipeline.store.get(key)
            events = present.event_rows(self.pipeline.history(key)) if record else []
        if record is None:
            raise NotFoundError(f"no image with key {key!r}")
        return {"detail": present.detail(record, self.links), "key": key, "failed": record["status"] == FAILED,
                "deleted": record["status"] == DELETED,
                "terminal": record["status"] in TERMINAL, "events": events}

    def _dead_letters(self) -> dict[str, Any]:
        with self._lock:
            return {"letters": self.pipeline.dead_letters(), "queues": self.pipeline.queues()}

    # ------------------------------------------------------------------ responses
    def _render(self, request: Request, name: str, context: dict[str, Any], **extra: Any) -> Response:
        return self.templates.TemplateResponse(request, name, {**context, **extra},
                                               headers={"Cache-Control": "no-store"})

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.templates.TemplateResponse(request, "error.html", {"message": "No such page."},
                                               status_code=404)


class ActionRefused(QipError):
    """An action request without the dashboard's header (e.g. a form posted from another site)."""


def _require_action_header(request: Request) -> None:
    if request.headers.get(ACTION_HEADER) != "1":
        raise ActionRefused("actions are only accepted from the dashboard's own page")


class SecurityHeaders:
    """CSP (scripts and styles from this origin only; images also from the object store), no framing,
    no sniffing, no referrer (presigned URLs stay out of other sites' logs)."""

    def __init__(self, app: ASGIApp, image_origins: str) -> None:
        self.app = app
        csp = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
               f"img-src 'self' data: {image_origins}; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
        self.headers = [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(self.headers)
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


_STATUS_FOR: dict[type[Exception], int] = {NotFoundError: 404, ConflictError: 409, ActionRefused: 403}


def error_response(request: Request, error: Exception) -> Response:
    """The project's and AWS's errors as short answers: JSON for actions, a page otherwise."""
    status = _STATUS_FOR.get(type(error), 502 if isinstance(error, (ClientError, BotoCoreError)) else 500)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": str(error)}, status_code=status)
    return HTMLResponse(_error_page(str(error)), status_code=status)


def _error_page(message: str) -> str:
    return (f'<!doctype html><meta charset="utf-8"><title>Error \u00b7 QIP</title>'
            f'<link rel="stylesheet" href="/static/dashboard.css"><main class="page"><div class="card error-card">'
            f'<h1>Something went wrong</h1><p>{escape(message)}</p><p><a href="/">Back to the overview</a></p>'
            f'</div></main>')


def _chunks(answer: HTTPResponse, size: int = 256 * 1024) -> Iterator[bytes]:
    with answer:
        while chunk := answer.read(size):
            yield chunk


def _image_url(key: str) -> str:
    return "/image?" + urlencode({"key": key})


def _image_origins(pipeline: Pipeline) -> str:
    """Where presigned URLs point: the engine's origin locally, S3's hosts on AWS."""
    endpoint = pipeline.stack.endpoint_url
    if endpoint:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "\u2014"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
