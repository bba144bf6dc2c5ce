"""What an artifact attached to an image is: media types, artifact types and predicate types -> ``kind``.

The table is documented in docs/supply-chain.md; a type not listed here is ``other``. Kinds are a closed set
(they become the ``kind`` label). Media type parameters (``; version=1.1``) and case are ignored.

Sources of the types (each tool's own documentation or format specification):

- cosign: signatures in a ``sha256-<hex>.sig`` tag, one ``application/vnd.dev.cosign.simplesigning.v1+json``
  layer per signature; attestations in ``.att``, DSSE envelope layers annotated with ``predicateType``;
  ``cosign attach sbom`` in ``.sbom``; with the OCI 1.1 referrers API, artifact types
  ``application/vnd.dev.cosign.artifact.sig.v1+json`` / ``...sbom.v1+json`` and sigstore bundles
  ``application/vnd.dev.sigstore.bundle.v0.3+json`` (annotated ``dev.sigstore.bundle.predicateType`` when
  the bundle holds an attestation).
- notation (Notary Project): artifact type ``application/vnd.cncf.notary.signature``.
- SPDX ``application/spdx+json``, ``text/spdx``; CycloneDX ``application/vnd.cyclonedx[+json|+xml]``;
  syft ``application/vnd.syft+json``.
- in-toto / SLSA: predicate type ``https://slsa.dev/provenance/<version>``; docker buildx stores attestation
  manifests inside the image index (annotation ``vnd.docker.reference.type: attestation-manifest``) whose
  layers are ``application/vnd.in-toto+json`` annotated ``in-toto.io/predicate-type``.
- vulnerability reports: cosign's ``https://cosign.sigstore.dev/attestation/vuln/v1`` predicate, in-toto's
  ``https://in-toto.io/attestation/vulns`` predicate, SARIF ``application/sarif+json`` (e.g. trivy/grype
  output attached with oras), Harbor's scanner reports ``application/vnd.security.vulnerability.report``.
"""

from __future__ import annotations

from typing import Any

KINDS = ("signature", "sbom", "vulnerability_report", "provenance", "other")

MEDIA_TYPE_KINDS: dict[str, str] = {
    # signatures
    "application/vnd.dev.cosign.simplesigning.v1+json": "signature",
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature",
    "application/vnd.cncf.notary.signature": "signature",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "signature",
    "application/vnd.dev.sigstore.bundle+json": "signature",
    # SBOMs
    "application/spdx+json": "sbom",
    "text/spdx": "sbom",
    "text/spdx+json": "sbom",
    "application/vnd.cyclonedx": "sbom",
    "application/vnd.cyclonedx+json": "sbom",
    "application/vnd.cyclonedx+xml": "sbom",
    "application/vnd.syft+json": "sbom",
    "application/vnd.dev.cosign.artifact.sbom.v1+json": "sbom",
    "application/vnd.goharbor.harbor.sbom.v1": "sbom",
    # vulnerability reports
    "application/sarif+json": "vulnerability_report",
    "application/vnd.security.vulnerability.report": "vulnerability_report",
    "application/vnd.scanner.adapter.vuln.report.harbor+json": "vulnerability_report",
    # provenance (an in-toto statement without a predicate type we know)
    "application/vnd.in-toto+json": "provenance",
}

# predicate types (prefixes: versions differ) -> kind; checked before the media type
PREDICATE_KINDS: tuple[tuple[str, str], ...] = (
    ("https://slsa.dev/provenance/", "provenance"),
    ("https://spdx.dev/document", "sbom"),
    ("https://cyclonedx.org/bom", "sbom"),
    ("https://cyclonedx.org/schema", "sbom"),
    ("https://cosign.sigstore.dev/attestation/vuln/", "vulnerability_report"),
    ("https://in-toto.io/attestation/vulns", "vulnerability_report"),
)
PREDICATE_ANNOTATIONS = ("predicateType", "in-toto.io/predicate-type", "dev.sigstore.bundle.predicateType")

# layers of a runnable image; a manifest with any other layer type is an artifact, not an image
IMAGE_LAYER_TYPES = frozenset((
    "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
))
IMAGE_CONFIG_TYPES = frozenset(("application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"))
INDEX_TYPES = frozenset(("application/vnd.oci.image.index.v1+json",
                         "application/vnd.docker.distribution.manifest.list.v2+json"))
MANIFEST_TYPES = frozenset(("application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json"))
COSIGN_SUFFIXES = {".sig": "signature", ".att": "other", ".sbom": "sbom"}  # default kind per cosign tag


def _base(media_type: Any) -> str:
    if not isinstance(media_type, str):
        return ""
    return media_type.split(";", 1)[0].strip().lower()


def predicate_kind(predicate: Any) -> str | None:
    if not isinstance(predicate, str) or not predicate:
        return None
    p = predicate.strip().lower()
    for prefix, kind in PREDICATE_KINDS:
        if p.startswith(prefix.lower()):
            return kind
    return "other"


def kind_of(media_type: Any, annotations: Any = None, default: str = "other") -> str:
    """The kind of one artifact (or layer) from its (artifact/media) type and annotations."""
    if isinstance(annotations, dict):
        for key in PREDICATE_ANNOTATIONS:
            kind = predicate_kind(annotations.get(key))
            if kind is not None:
                return kind
    return MEDIA_TYPE_KINDS.get(_base(media_type), default)


def is_artifact_tag(tag: str | None) -> bool:
    """Tags artifacts use for their subject (``sha256-<hex>`` of the referrers tag schema, cosign's
    ``sha256-<hex>.sig|.att|.sbom`` and other tools' suffixes): such a push is never an image."""
    if not tag:
        return False
    alg, dash, rest = tag.partition("-")
    if not dash or alg not in ("sha256", "sha512"):
        return False
    hexpart = rest.split(".", 1)[0]
    return len(hexpart) in (64, 128) and all(c in "0123456789abcdef" for c in hexpart)


def manifest_is_artifact(doc: dict) -> bool:
    """An image manifest that is really an artifact (a signature, SBOM, chart...): it declares a subject
    or an artifactType, its config is not an image config, or a layer is not a filesystem layer."""
    if doc.get("subject") or doc.get("artifactType"):
        return True
    config = doc.get("config")
    if isinstance(config, dict) and _base(config.get("mediaType")) not in IMAGE_CONFIG_TYPES:
        return True
    layers = doc.get("layers")
    return isinstance(layers, list) and any(
        not isinstance(layer, dict) or _base(layer.get("mediaType")) not in IMAGE_LAYER_TYPES for layer in layers)


def descriptor_kind(desc: dict) -> str:
    """Kind of a referrer descriptor (referrers API response or referrers tag schema index entry).

    Per the distribution spec the descriptor's ``artifactType`` is the manifest's artifactType, or its
    config media type when the manifest has none."""
    return kind_of(desc.get("artifactType"), desc.get("annotations"))
