"""TLS made for a class cluster: a certificate authority of its own and one broker
certificate whose subject alternative names hold the address students connect to.

Everything is PEM, which both Kafka (``ssl.keystore.type=PEM``) and librdkafka
(``ssl.ca.location``) read. Private keys are written owner-only (0600).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from pathlib import Path

__all__ = ["make_broker_cert", "make_ca", "write_private"]

VALID_DAYS = 90  # a course, not a production PKI


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``path`` readable by its owner only, from the first byte (never world-readable,
    not even for a moment)."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    Path(name).replace(path)


def _name(common_name: str) -> object:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labkit class"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder: Path) -> tuple[Path, Path]:
    """A new CA in ``folder``: ``ca.pem`` (the certificate, to hand out) and ``ca-key.pem``
    (its key, 0600). Returns both paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("labkit class CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)  # type: ignore[arg-type]
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    ca, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    write_private(ca_key, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    folder.mkdir(parents=True, exist_ok=True)
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca, ca_key


def make_broker_cert(ca: Path, ca_key: Path, address: str, target: Path) -> Path:
    """A broker certificate signed by the CA, valid for ``address`` (an IP address or a host
    name, in the subject alternative names), written to ``target`` as one PEM file holding
    the private key (PKCS#8) and the chain (broker, CA), 0600: Kafka's PEM key store."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(address))
    except ValueError:
        alt = x509.DNSName(address)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(address))  # type: ignore[arg-type]
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(signer, hashes.SHA256()))  # type: ignore[arg-type]
    pem = (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
           + cert.public_bytes(serialization.Encoding.PEM)
           + ca_cert.public_bytes(serialization.Encoding.PEM))
    write_private(target, pem)
    return target
