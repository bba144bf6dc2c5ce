"""TLS against a real registry serving a certificate from a throw-away CA (IP SAN 127.0.0.1)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from regslo.config import AuthConfig, Registry, Secret, TLSConfig
from regslo.oci.auth import build_auth
from regslo.oci.tls import TLSConfigError, build_verify, is_tls_error
from tests.support.tls import make_ca, make_client_cert, make_server_cert
from tests.support.token_server import TokenServer


@pytest.fixture
def pki(tmp_path):
    ca = make_ca(tmp_path / "pki")
    return ca, make_server_cert(ca, tmp_path / "pki")


@pytest.fixture
def tls_registry(registries, pki):
    _ca, server = pki
    return registries("r1", tls=(server.cert_file, server.key_file))[0]


def ping(reg, tls: TLSConfig) -> httpx.Response:
    with httpx.Client(base_url=reg.url, verify=build_verify(tls), timeout=5.0) as client:
        return client.get("/v2/")


def test_ca_file_makes_the_registry_trusted(tls_registry, pki):
    assert tls_registry.url.startswith("https://127.0.0.1:")
    assert ping(tls_registry, TLSConfig(ca_file=pki[0].cert_file)).status_code == 200


@pytest.mark.parametrize("trust", ["default", "other-ca"])
def test_untrusted_certificate_is_a_tls_error(tls_registry, tmp_path, trust):
    tls = TLSConfig() if trust == "default" else TLSConfig(ca_file=make_ca(tmp_path / "other").cert_file)
    with pytest.raises(httpx.ConnectError) as info:
        ping(tls_registry, tls)
    assert is_tls_error(info.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_insecure_skip_verify_accepts_any_certificate(tls_registry):
    assert build_verify(TLSConfig(insecure_skip_verify=True)) is False
    assert ping(tls_registry, TLSConfig(insecure_skip_verify=True)).status_code == 200


def test_a_connection_refusal_is_not_a_tls_error(tls_registry, pki):
    tls_registry.stop()
    with pytest.raises(httpx.ConnectError) as info:
        ping(tls_registry, TLSConfig(ca_file=pki[0].cert_file))
    assert not is_tls_error(info.value)


def test_client_certificate_for_mutual_tls(tls_registry, pki, tmp_path):
    ca, _server = pki
    tls_registry.config["http"]["tls"]["clientcas"] = [str(ca.cert_file)]
    tls_registry.restart()
    client = make_client_cert(ca, tmp_path / "pki")
    with pytest.raises(httpx.HTTPError) as info:  # the registry refuses a client without a certificate
        ping(tls_registry, TLSConfig(ca_file=ca.cert_file))
    assert is_tls_error(info.value)
    mutual = TLSConfig(ca_file=ca.cert_file, cert_file=client.cert_file, key_file=client.key_file)
    assert ping(tls_registry, mutual).status_code == 200
    skip = TLSConfig(insecure_skip_verify=True, cert_file=client.cert_file, key_file=client.key_file)
    assert ping(tls_registry, skip).status_code == 200  # client cert still presented


def test_ca_file_adds_to_the_default_trust(pki):
    ctx = build_verify(TLSConfig(ca_file=pki[0].cert_file))
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    default = httpx.create_ssl_context().cert_store_stats()["x509_ca"]
    assert ctx.cert_store_stats()["x509_ca"] == default + 1
    assert build_verify(TLSConfig()) is True


def test_unloadable_files_name_the_file(tmp_path, pki):
    missing = tmp_path / "nope.pem"
    with pytest.raises(TLSConfigError, match="ca_file: file not found: .*nope.pem"):
        build_verify(TLSConfig(ca_file=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSConfigError, match="garbage.pem"):
        build_verify(TLSConfig(ca_file=garbage))
    with pytest.raises(TLSConfigError, match="cert_file/key_file"):
        build_verify(TLSConfig(cert_file=pki[1].cert_file, key_file=pki[0].key_file))  # mismatched pair


def test_token_flow_over_tls_uses_the_same_trust(registries, pki, tmp_path):
    ca, server_cert = pki
    tokens = TokenServer(tmp_path / "token", users={"probe": "pw"}, tls=(server_cert.cert_file,
                                                                        server_cert.key_file)).start()
    try:
        reg = registries("r1", tls=(server_cert.cert_file, server_cert.key_file),
                         token=tokens.registry_config())[0]
        config = Registry(name="r1", url=reg.url, region="x", auth=AuthConfig("probe", Secret("pw")),
                          tls=TLSConfig(ca_file=ca.cert_file))
        with httpx.Client(base_url=reg.url, auth=build_auth(config), verify=build_verify(config.tls)) as client:
            scope = {"regslo_scope": "repository:regslo/probe:pull,push"}
            assert client.post("/v2/regslo/probe/blobs/uploads/", extensions=scope).status_code == 202
        assert tokens.realm.startswith("https://") and tokens.issued == 1
    finally:
        tokens.stop()
