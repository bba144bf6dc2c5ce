"""Images and the artifacts real tools attach to them, pushed to a real registry for the inspector's tests.

Formats reproduced by hand follow these specifications (nothing here is copied from the tools):

- OCI image spec v1.1 (image-spec/manifest.md, "artifactType" and "subject"; image-index.md) and the OCI
  distribution spec v1.1 (spec.md, "Pushing Manifests with Subject" and "Referrers Tag Schema": a registry
  without the referrers API gets an image index at tag ``<alg>-<hex>`` listing the referrers, each
  descriptor carrying the manifest's ``artifactType`` and annotations).
- cosign's specs (sigstore/cosign specs/SIGNATURE_SPEC.md and ATTESTATION_SPEC.md): signatures in tag
  ``sha256-<hex>.sig``, one ``application/vnd.dev.cosign.simplesigning.v1+json`` layer per signature
  annotated ``dev.cosignproject.cosign/signature``; attestations in ``sha256-<hex>.att``, DSSE envelope
  layers (``application/vnd.dsse.envelope.v1+json``) annotated ``predicateType``.
- docker buildx attestation storage (docs.docker.com build/metadata/attestations/attestation-storage):
  an attestation manifest inside the image index, annotated ``vnd.docker.reference.type:
  attestation-manifest`` and ``vnd.docker.reference.digest: <image digest>``, layers
  ``application/vnd.in-toto+json`` annotated ``in-toto.io/predicate-type``.
- cosign's simple signing payload (SIGNATURE_SPEC.md, "Payload"): ``critical.identity.docker-reference``,
  ``critical.image.docker-manifest-digest``, ``critical.type: cosign container image signature``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

from regslo.oci.client import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, RegistryClient

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _desc(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data), **extra}


def _json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Pushed:
    repository: str
    digest: str
    size: int  # config + layer bytes


def push_image(client: RegistryClient, repo: str, tag: str | None, layer_sizes: tuple[int, ...] = (2048, 4096),
               platform: str = "linux/amd64", seed: str = "") -> Pushed:
    """An OCI image (config + random layers); pushed by tag, or by digest when ``tag`` is None."""
    os_, arch = platform.split("/")
    config = _json({"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": []},
                    "config": {"Labels": {"seed": seed or os.urandom(4).hex()}}})
    layers = [os.urandom(n) for n in layer_sizes]
    client.push_blob(repo, config)
    for layer in layers:
        client.push_blob(repo, layer)
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _desc(OCI_CONFIG, config),
                      "layers": [_desc(OCI_LAYER_GZIP, x) for x in layers]})
    digest = client.put_manifest(repo, tag or _digest(manifest), manifest, OCI_MANIFEST)
    return Pushed(repo, digest, len(config) + sum(layer_sizes))


def push_index(client: RegistryClient, repo: str, tag: str, platforms: dict[str, Pushed],
               provenance: bool = True) -> Pushed:
    """An image index of already pushed platform images, with a buildx-style provenance attestation."""
    entries = []
    for platform, img in platforms.items():
        body = client.get_manifest(repo, img.digest).body
        os_, arch = platform.split("/")
        entries.append(_desc(OCI_MANIFEST, body, platform={"os": os_, "architecture": arch}))
    if provenance:
        first = next(iter(platforms.values()))
        statement = _json({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
                           "subject": [{"name": repo, "digest": {"sha256": first.digest.split(":")[1]}}],
                           "predicate": {"builder": {"id": "test"}}})
        config = _json({"architecture": "unknown", "os": "unknown", "rootfs": {"type": "layers", "diff_ids": []}})
        client.push_blob(repo, config)
        client.push_blob(repo, statement)
        att = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _desc(OCI_CONFIG, config),
                     "layers": [_desc("application/vnd.in-toto+json", statement,
                                      annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})]})
        att_digest = client.put_manifest(repo, _digest(att), att, OCI_MANIFEST)
        entries.append(_desc(OCI_MANIFEST, att, platform={"os": "unknown", "architecture": "unknown"},
                             annotations={"vnd.docker.reference.type": "attestation-manifest",
                                          "vnd.docker.reference.digest": first.digest}))
        assert att_digest == entries[-1]["digest"]
    index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    digest = client.put_manifest(repo, tag, index, OCI_INDEX)
    sizes: dict[str, int] = {}
    for img in platforms.values():
        doc = json.loads(client.get_manifest(repo, img.digest).body)
        for d in [doc["config"], *doc["layers"]]:
            sizes[d["digest"]] = d["size"]
    return Pushed(repo, digest, sum(sizes.values()))


def attach_referrer(client: RegistryClient, subject: Pushed, artifact_type: str, payload: bytes,
                    annotations: dict | None = None) -> str:
    """An OCI 1.1 artifact manifest with ``subject``, pushed by digest, and (no referrers API on
    distribution 2.8) the referrers tag schema index ``sha256-<hex>`` updated to list it."""
    repo = subject.repository
    empty = b"{}"
    client.push_blob(repo, empty)
    client.push_blob(repo, payload)
    subject_body = client.get_manifest(repo, subject.digest).body
    manifest_doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                    "config": _desc(EMPTY_CONFIG, empty), "layers": [_desc(artifact_type, payload)],
                    "subject": _desc(OCI_MANIFEST if b'"layers"' in subject_body else OCI_INDEX, subject_body)}
    if annotations:
        manifest_doc["annotations"] = annotations
    manifest = _json(manifest_doc)
    digest = client.put_manifest(repo, _digest(manifest), manifest, OCI_MANIFEST)
    tag = subject.digest.replace(":", "-")
    existing = client.head_manifest(repo, tag)
    entries = json.loads(client.get_manifest(repo, tag).body)["manifests"] if existing else []
    entry = _desc(OCI_MANIFEST, manifest, artifactType=artifact_type)
    if annotations:
        entry["annotations"] = annotations
    entries.append(entry)
    index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    client.put_manifest(repo, tag, index, OCI_INDEX)
    return digest


def attach_cosign_attestation(client: RegistryClient, subject: Pushed, predicate_types: list[str]) -> str:
    """cosign's ``.att`` tag: one DSSE envelope layer per attestation, annotated with its predicate type."""
    repo = subject.repository
    config = _json({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}})
    client.push_blob(repo, config)
    layers = []
    for ptype in predicate_types:
        statement = _json({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": ptype,
                           "subject": [{"name": repo, "digest": {"sha256": subject.digest.split(":")[1]}}],
                           "predicate": {}})
        envelope = _json({"payloadType": "application/vnd.in-toto+json",
                          "payload": base64.b64encode(statement).decode(), "signatures": [{"sig": "MEUCIQ=="}]})
        client.push_blob(repo, envelope)
        layers.append(_desc(DSSE, envelope, annotations={"dev.cosignproject.cosign/signature": "",
                                                         "predicateType": ptype}))
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _desc(OCI_CONFIG, config),
                      "layers": layers})
    return client.put_manifest(repo, subject.digest.replace(":", "-") + ".att", manifest, OCI_MANIFEST)


def push_helm_chart(client: RegistryClient, repo: str, tag: str) -> str:
    """A Helm chart as an OCI artifact under an ordinary tag (helm's config and layer media types)."""
    config = _json({"name": "demo", "version": "1.0.0", "apiVersion": "v2"})
    chart = os.urandom(512)
    client.push_blob(repo, config)
    client.push_blob(repo, chart)
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": _desc("application/vnd.cncf.helm.config.v1+json", config),
                      "layers": [_desc("application/vnd.cncf.helm.chart.content.v1.tar+gzip", chart)]})
    return client.put_manifest(repo, tag, manifest, OCI_MANIFEST)


# -- cosign signatures ---------------------------------------------------------------------------------
def attach_cosign_signature(client: RegistryClient, subject: Pushed, identity: str) -> str:
    """cosign's ``.sig`` tag: a simple-signing payload naming the image digest, signed with a fresh ECDSA
    P-256 key (the signature, base64, in the layer's ``dev.cosignproject.cosign/signature`` annotation).

    Made by hand because Debian 12's skopeo 1.9.3 refuses ``--sign-by-sigstore-private-key`` ("Debian-local
    change: sigstore disabled") and cosign is not packaged here."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    repo = subject.repository
    payload = _json({"critical": {"identity": {"docker-reference": identity},
                                  "image": {"docker-manifest-digest": subject.digest},
                                  "type": "cosign container image signature"}, "optional": None})
    key = ec.generate_private_key(ec.SECP256R1())
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    config = _json({"architecture": "", "os": "", "config": {},
                    "rootfs": {"type": "layers", "diff_ids": [_digest(payload)]}})
    client.push_blob(repo, config)
    client.push_blob(repo, payload)
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _desc(OCI_CONFIG, config),
                      "layers": [_desc(SIMPLESIGNING, payload,
                                       annotations={"dev.cosignproject.cosign/signature": signature})]})
    return client.put_manifest(repo, subject.digest.replace(":", "-") + ".sig", manifest, OCI_MANIFEST)
