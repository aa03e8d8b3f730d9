"""Self-signed certificates for a service's first start, and certificate pinning by SHA-256 fingerprint.

The host agent makes its key and certificate once (``ensure_self_signed``); the engine pins the certificate's
fingerprint when it pairs with the agent and, on every later connection, compares what the agent presents before it
sends a byte (``pinned_context`` + ``fingerprint_of_der``).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from extnet.common.files import write_private

VALID_DAYS = 3650


@dataclass(frozen=True)
class KeyPair:
    cert_path: Path
    key_path: Path
    fingerprint: str  # sha256 of the certificate's DER, hex

    @property
    def fingerprint_text(self) -> str:
        """As an administrator compares it (``openssl x509 -fingerprint -sha256``): AA:BB:..."""
        return ":".join(self.fingerprint[i : i + 2] for i in range(0, len(self.fingerprint), 2)).upper()


def fingerprint_of_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def ensure_self_signed(directory: Path, stem: str, common_name: str, names: list[str]) -> KeyPair:
    """``<stem>.key`` (0600) and ``<stem>.crt`` in ``directory``, made on the first call and kept afterwards.
    ``names`` go into the subject alternative names (IP addresses as such)."""
    key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.crt"
    if not (key_path.exists() and cert_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _self_signed(key, common_name, names)
        write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return KeyPair(cert_path, key_path, fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER)))


def pinned_context() -> ssl.SSLContext:
    """A client context that accepts any certificate: the caller checks the peer's fingerprint against its pin
    (or records it, when it pairs) before it sends anything."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _self_signed(key: ec.EllipticCurvePrivateKey, common_name: str, names: list[str]) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "extnet"),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])  # fmt: skip
    alternative: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            alternative.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if alternative:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative), critical=False)
    return builder.sign(key, hashes.SHA256())
