"""The referrers API path (a 200 index, paginated with Link). No registry packaged here implements the OCI 1.1
referrers API (distribution 2.8 answers 404, tested against the real registry in tests/integration/inspect),
so this one path is served by an httpx.MockTransport that answers as the distribution spec describes."""

from __future__ import annotations

import json

import httpx

from regslo.config import Registry
from regslo.oci.client import RegistryClient
from regslo.sources.inspect.inspector import referrer_kinds

SUBJECT = "sha256:" + "ab" * 32
INDEX = "application/vnd.oci.image.index.v1+json"


def _response(status: int, doc: dict, headers: dict) -> httpx.Response:
    # a stream, as from a network transport (the client reads bodies incrementally, up to its caps)
    return httpx.Response(status, stream=httpx.ByteStream(json.dumps(doc).encode()), headers=headers)


def _handler(seen: list[str]):
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(f"{request.method} {path}?{request.url.query.decode()}")
        if path == f"/v2/prod/app/referrers/{SUBJECT}":
            if request.url.params.get("page") == "2":
                body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
                    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "2" * 64,
                     "size": 10, "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                     "annotations": {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"}}]}
                return _response(200, body, {"Content-Type": INDEX})
            body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "1" * 64,
                 "size": 10, "artifactType": "application/vnd.cncf.notary.signature"}]}
            link = f'</v2/prod/app/referrers/{SUBJECT}?page=2>; rel="next"'
            return _response(200, body, {"Content-Type": INDEX, "Link": link})
        return _response(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]}, {})
    return handle


def test_referrers_api_pages_are_read_and_the_tag_schema_is_not_needed():
    seen: list[str] = []
    client = RegistryClient(Registry("r", "http://registry.test", "r"), transport=httpx.MockTransport(_handler(seen)))
    try:
        assert len(client.referrers("prod/app", SUBJECT)) == 2
        seen.clear()
        kinds = referrer_kinds(client, "prod/app", SUBJECT, deadline=float("inf"))
    finally:
        client.close()
    assert kinds == {"signature", "provenance"}
    tag = SUBJECT.replace(":", "-")
    assert not any(f"/manifests/{tag}?" in s for s in seen)  # the referrers tag schema is only a fallback
    assert [s for s in seen if "/manifests/" in s] == [f"GET /v2/prod/app/manifests/{tag}{x}?" for x in (".sig", ".att", ".sbom")]
