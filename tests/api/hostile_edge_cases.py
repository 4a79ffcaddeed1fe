"""Hostile requests at the edges of the corpus (classes ssrf, uploads, routes).

* ssrf: every spelling of a private, loopback, link-local or metadata address, and the
  schemes that are not http(s): a 400 before any connection is made (the test counts
  connections on a loopback trap listener; none may arrive);
* uploads: the dashscope upload flow abused — forged or tampered policies, keys outside
  the policy's directory, oversized and malformed multipart, another account's
  ``oss://`` object; the upload host answers in OSS XML (spec §3.3);
* routes: wrong methods and unknown paths under both prefixes (404/405 in the dialect).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from tests.api.hostile_corpus import (
    BLOCKED,
    INVALID_URL,
    MODEL,
    NATIVE_PATH,
    OK,
    Call,
    Case,
    Ctx,
    Expect,
    image_request,
    tiny_page,
)

UPLOAD = "/oss/upload"
POLICY = "/api/v1/uploads"


def ssrf_cases() -> list[Case]:
    blocked = Expect(400, "InvalidParameter", has=(BLOCKED,))
    refused = Expect(400, "InvalidParameter", one_of=(BLOCKED, INVALID_URL, "Failed to download"))
    scheme = Expect(400, "InvalidParameter", has=(INVALID_URL, "unsupported URL scheme"))
    local = Expect(400, "InvalidParameter", has=("Local file",))
    forms: list[tuple[str, str, Expect]] = [
        ("loopback", "http://127.0.0.1:{p}/a.png", blocked),
        ("localhost", "http://localhost:{p}/a.png", blocked),
        ("loopback-127.1", "http://127.1:{p}/a.png", blocked),
        ("loopback-127.255.255.254", "http://127.255.255.254:{p}/", blocked),
        ("decimal", "http://2130706433:{p}/a.png", blocked),
        ("hex", "http://0x7f000001:{p}/a.png", blocked),
        ("octal", "http://0177.0.0.1:{p}/a.png", refused),
        ("zero", "http://0:{p}/a.png", blocked),
        ("unspecified", "http://0.0.0.0:{p}/a.png", blocked),
        ("ipv6-loopback", "http://[::1]:{p}/a.png", blocked),
        ("ipv6-unspecified", "http://[::]:{p}/a.png", blocked),
        ("ipv4-mapped", "http://[::ffff:127.0.0.1]:{p}/a.png", blocked),
        ("ipv4-mapped-hex", "http://[::ffff:7f00:1]:{p}/a.png", blocked),
        ("ipv4-mapped-long", "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/a.png", blocked),
        ("6to4-of-loopback", "http://[2002:7f00:1::]:{p}/a.png", blocked),
        ("metadata", "http://169.254.169.254/latest/meta-data/", blocked),
        ("metadata-decimal", "http://2852039166/latest/meta-data/", blocked),
        ("metadata-ipv6", "http://[fd00:ec2::254]/latest/meta-data/", blocked),
        ("metadata-name", "http://metadata.google.internal/computeMetadata/v1/", refused),
        ("private-10", "http://10.0.0.1/a.png", blocked),
        ("private-172", "http://172.16.0.1/a.png", blocked),
        ("private-192", "http://192.168.1.1/a.png", blocked),
        ("cgnat", "http://100.64.0.1/a.png", blocked),
        ("link-local-v6", "http://[fe80::1]/a.png", blocked),
        ("zone-id", "http://[fe80::1%25lo]:{p}/a.png", refused),
        ("multicast", "http://224.0.0.1/a.png", blocked),
        ("broadcast", "http://255.255.255.255/a.png", blocked),
        ("userinfo", "http://user:secret@127.0.0.1:{p}/a.png", blocked),
        ("userinfo-confusion", "http://example.com@127.0.0.1:{p}/a.png", blocked),
        ("backslash-confusion", "http://127.0.0.1:{p}\\@example.com/a.png", refused),
        ("https-loopback", "https://127.0.0.1:{p}/a.png", blocked),
        ("uppercase-scheme", "HTTP://127.0.0.1:{p}/a.png", blocked),
        ("surrounding-spaces", "  http://127.0.0.1:{p}/a.png  ", blocked),
        ("file", "file:///etc/passwd", local),
        ("file-localhost", "file://localhost/etc/passwd", local),
        ("bare-path", "/etc/passwd", local),
        ("gopher", "gopher://127.0.0.1:{p}/_GET%20/", scheme),
        ("ftp", "ftp://127.0.0.1:{p}/a.png", scheme),
        ("dict", "dict://127.0.0.1:{p}/info", scheme),
        ("ws", "ws://127.0.0.1:{p}/", scheme),
        ("jar", "jar:http://127.0.0.1:{p}/a.jar!/a.png", scheme),
    ]
    return [Case("ssrf", name, lambda d, ctx, u=url: image_request(d, u.format(p=ctx.trap_port)), expect)
            for name, url, expect in forms]


def _upload(name: str, build: Callable[[Ctx], tuple[dict[str, str], bytes]], expect: Expect,
            method: str = "POST", path: str = UPLOAD) -> Case:
    def call(d: str, ctx: Ctx) -> Call:
        headers, body = build(ctx)
        return Call(method, path, raw=body, headers=dict(headers), key=None)
    return Case("uploads", name, call, expect, dialects=("oss",))


def _tampered_policy(ctx: Ctx) -> tuple[dict[str, str], bytes]:
    headers, body = ctx.upload_form()
    policy = body.split(b'name="policy"\r\n\r\n', 1)[1].split(b"\r\n", 1)[0]
    doc = json.loads(base64.b64decode(policy))
    doc["account"], doc["conditions"] = "someone-else", [["content-length-range", 0, 10**12]]
    forged = base64.b64encode(json.dumps(doc).encode())
    return headers, body.replace(policy, forged)


def upload_cases() -> list[Case]:
    xml = lambda status, code, *has: Expect(status, code, has=has)  # noqa: E731
    big = 10 * 1024 * 1024
    cases = [
        _upload("valid-200", lambda ctx: ctx.upload_form(), OK),
        _upload("valid-204", lambda ctx: ctx.upload_form(success_action_status=None), Expect(204)),
        _upload("status-garbage", lambda ctx: ctx.upload_form(success_action_status="abc"), Expect(204)),
        _upload("empty-file", lambda ctx: ctx.upload_form(file=b""), OK),
        _upload("key-with-nul", lambda ctx: ctx.upload_form(key_suffix="a\x00b.png"), OK),
        _upload("no-file", lambda ctx: ctx.upload_form(no_file=True), xml(400, "InvalidArgument", "file")),
        _upload("bad-signature", lambda ctx: ctx.upload_form(Signature="AAAA"),
                xml(403, "SignatureDoesNotMatch")),
        _upload("no-signature", lambda ctx: ctx.upload_form(Signature=None), xml(403, "SignatureDoesNotMatch")),
        _upload("tampered-policy", _tampered_policy, xml(403, "SignatureDoesNotMatch")),
        _upload("policy-as-file-part", lambda ctx: ctx.upload_form(policy_as_file=True),
                xml(400, "InvalidArgument", "Too many files")),
        _upload("key-outside-dir", lambda ctx: ctx.upload_form(key="elsewhere/x.png"), xml(403, "AccessDenied")),
        _upload("key-traversal", lambda ctx: ctx.upload_form(key_suffix="../../../x.png"),
                xml(403, "AccessDenied")),
        _upload("file-over-limit", lambda ctx: ctx.upload_form(file=b"\0" * (big + 1)),
                xml(400, "EntityTooLarge")),
        _upload("body-over-cap", lambda ctx: ctx.upload_form(file=b"\0" * (big + 2 * 1024 * 1024)),
                xml(413, "EntityTooLarge", "Payload Too Large")),
        _upload("overwrite", lambda ctx: ctx.upload_form(twice=True), xml(409, "FileAlreadyExists")),
        _upload("not-multipart", lambda ctx: ({"Content-Type": "application/json"}, b'{"file": "x"}'),
                xml(400, "InvalidArgument", "file")),
        _upload("no-boundary", lambda ctx: ({"Content-Type": "multipart/form-data"}, b"--x\r\n"),
                xml(400, "InvalidArgument", "boundary")),
        _upload("garbage-multipart", lambda ctx: ({"Content-Type": "multipart/form-data; boundary=zz"},
                                                  bytes(range(256)) * 64), xml(400, "InvalidArgument")),
        _upload("too-many-fields", lambda ctx: ctx.upload_form(extra_fields=100),
                xml(400, "InvalidArgument", "Too many fields")),
        _upload("two-files", lambda ctx: ctx.upload_form(extra_files=1), xml(400, "InvalidArgument", "Too many files")),
        _upload("field-100KB", lambda ctx: ctx.upload_form(Signature="A" * 100_000),
                xml(400, "InvalidArgument", "exceeded maximum size")),
        _upload("GET-upload-host", lambda ctx: ({}, b""), xml(405, "MethodNotAllowed"), method="GET"),
        _upload("PUT-upload-host", lambda ctx: ctx.upload_form(), xml(405, "MethodNotAllowed"), method="PUT"),
        _upload("unknown-subpath", lambda ctx: ctx.upload_form(), xml(404, "NoSuchKey"), path=UPLOAD + "/x"),
    ]
    policy = lambda query, expect, key="A", method="GET": Case(  # noqa: E731
        "uploads", f"getPolicy-{method}-{query or 'no-query'}-{key}",
        lambda d, ctx: Call(method, f"{POLICY}?{query}" if query else POLICY, key=key), expect,
        dialects=("native",))
    cases += [
        policy("model=qwen-vl-ocr", Expect(400, "InvalidParameter", has=("action",))),
        policy("action=putPolicy&model=qwen-vl-ocr", Expect(400, "InvalidParameter", has=("action",))),
        policy("action=getPolicy", Expect(400, "InvalidParameter", has=("model",))),
        policy("action=getPolicy&model=gpt-4o", Expect(404, "ModelNotFound")),
        policy("action=getPolicy&model=%ED%A0%80%00", Expect(404, "ModelNotFound")),
        policy("action=getPolicy&model=qwen-vl-ocr", Expect(401, "InvalidApiKey"), key=None),
        policy("action=getPolicy&model=qwen-vl-ocr", Expect(405, "MethodNotAllowed"), method="POST"),
    ]
    oss = Expect(400, "InvalidParameter", has=(INVALID_URL,))

    def own(d: str, ctx: Ctx) -> Call:
        return image_request(d, ctx.oss_url_a)

    def other(d: str, ctx: Ctx) -> Call:
        call = image_request(d, ctx.oss_url_a)
        call.key = "B"
        return call

    cases += [
        Case("uploads", "oss-own-account", own, OK),
        Case("uploads", "oss-other-account", other, oss),
        Case("uploads", "oss-uppercase-scheme", lambda d, ctx: image_request(
            d, "OSS://" + ctx.oss_url_a[len("oss://"):]), OK),
        Case("uploads", "oss-unknown-key", lambda d, ctx: image_request(d, "oss://ocrgate-instant/x/y/z.png"), oss),
        Case("uploads", "oss-empty-key", lambda d, ctx: image_request(d, "oss://"), oss),
        Case("uploads", "oss-traversal", lambda d, ctx: image_request(d, "oss://../../../etc/passwd"), oss),
    ]
    return cases


def route_cases() -> list[Case]:
    def route(name: str, native: tuple[str, str], compat: tuple[str, str], expect: Expect | dict[str, Expect],
              body: bool = True) -> Case:
        def call(d: str, ctx: Ctx) -> Call:
            method, path = native if d == "native" else compat
            return Call(method, path, body=image_request(d, tiny_page()).body if body else None)
        return Case("routes", name, call, expect)

    not_allowed = Expect(405, "MethodNotAllowed")
    not_found = Expect(404, "InvalidURL")
    chat = "/compatible-mode/v1/chat/completions"
    cases = [route(f"{m}-on-generation", (m, NATIVE_PATH), (m, chat), not_allowed, body=m != "GET")
             for m in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS")]
    cases += [
        route("unknown-path", ("POST", "/api/v1/nope"), ("POST", "/compatible-mode/v1/nope"), not_found),
        route("unknown-version", ("POST", NATIVE_PATH.replace("v1", "v2")),
              ("POST", chat.replace("v1", "v2")), not_found),
        route("long-path-8k", ("POST", "/api/v1/" + "x" * 8000), ("POST", "/compatible-mode/v1/" + "x" * 8000),
              not_found),
        route("percent-junk", ("POST", "/api/v1/%ff%fe%00%0a"), ("POST", "/compatible-mode/v1/%ff%fe%00%0a"),
              not_found),
        route("double-slash", ("POST", NATIVE_PATH.replace("/v1/", "/v1//")),
              ("POST", chat.replace("/v1/", "/v1//")), not_found),
        route("prefix-root", ("GET", "/api/v1"), ("GET", "/compatible-mode"), not_found, body=False),
        route("model-by-id", ("GET", f"/api/v1/models/{MODEL}"), ("GET", "/compatible-mode/v1/models/nope"),
              {"native": not_found, "compatible": Expect(404, "ModelNotFound", has=("nope",))}, body=False),
        route("model-id-invalid-utf8", ("GET", "/api/v1/models/%ED%A0%80"),
              ("GET", "/compatible-mode/v1/models/%ED%A0%80"),
              {"native": not_found, "compatible": Expect(404, "ModelNotFound")}, body=False),
        # the Batch API is compatible-mode only (spec §10)
        route("files-json-body", ("POST", "/api/v1/files"), ("POST", "/compatible-mode/v1/files"),
              {"native": not_found, "compatible": Expect(400, "InvalidParameter", has=("purpose",))}),
        route("batches-wrong-method", ("DELETE", "/api/v1/batches"),
              ("DELETE", "/compatible-mode/v1/batches"),
              {"native": not_found, "compatible": not_allowed}, body=False),
        route("models-list-wrong-method", ("DELETE", "/api/v1/models"), ("DELETE", "/compatible-mode/v1/models"),
              {"native": not_found, "compatible": not_allowed}, body=False),
        Case("routes", "outside-prefixes", lambda d, ctx: Call("GET", "/etc/passwd"), not_found,
             dialects=("native",)),
        Case("routes", "uploads-POST", lambda d, ctx: Call("POST", POLICY, body={}), not_allowed,
             dialects=("native",)),
    ]
    return cases
