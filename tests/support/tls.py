"""Throw-away X.509 material for tests: a self-signed CA, server certs for 127.0.0.1, client certs, and
self-signed signing certs (for JWT ``x5c`` headers), all made with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class KeyPair:
    """A certificate and its private key, in memory and written as PEM files."""

    cert: x509.Certificate
    key: object  # a cryptography private key
    cert_file: Path
    key_file: Path

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def new_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "regslo tests")])


def _write(directory: Path, stem: str, cert: x509.Certificate, key) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / f"{stem}.crt"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair = KeyPair(cert=cert, key=key, cert_file=cert_file, key_file=key_file)
    key_file.write_bytes(pair.key_pem())
    key_file.chmod(0o600)
    return pair


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days)))


def make_ca(directory: Path, name: str = "regslo test CA", kind: str = "ec") -> KeyPair:
    """A self-signed CA certificate (``<directory>/ca.crt``) and key."""
    key = new_key(kind)
    subject = _name(name)
    cert = (_builder(subject, subject, key.public_key(), 30)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _write(directory, "ca", cert, key)


def _leaf(ca: KeyPair, directory: Path, stem: str, common_name: str, usage: x509.ObjectIdentifier,
          hosts: tuple[str, ...] = ()) -> KeyPair:
    key = new_key("ec")
    builder = (_builder(_name(common_name), ca.cert.subject, key.public_key(), 30)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    if hosts:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(directory, stem, builder.sign(ca.key, hashes.SHA256()), key)


def make_server_cert(ca: KeyPair, directory: Path, hosts: tuple[str, ...] = ("127.0.0.1",),
                     stem: str = "server") -> KeyPair:
    """A server certificate signed by ``ca`` whose SANs are ``hosts`` (IP addresses become IP SANs)."""
    return _leaf(ca, directory, stem, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, hosts)


def make_client_cert(ca: KeyPair, directory: Path, name: str = "regslo-probe", stem: str = "client") -> KeyPair:
    """A client certificate signed by ``ca`` for mutual TLS."""
    return _leaf(ca, directory, stem, name, ExtendedKeyUsageOID.CLIENT_AUTH)


def make_signing_cert(directory: Path, kind: str = "rsa", stem: str = "token-signing") -> KeyPair:
    """A self-signed certificate for a JWT signing key: it goes into the registry's ``rootcertbundle``
    and, as DER, into the token header's ``x5c`` chain."""
    key = new_key(kind)
    subject = _name(f"regslo token signer ({kind})")
    cert = (_builder(subject, subject, key.public_key(), 30)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return _write(directory, stem, cert, key)
