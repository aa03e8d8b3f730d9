"""A provider's TLS certificates: the chain its endpoints present (read before it is trusted), and the parsing and
checking of the certificates an administrator imports to trust it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from extnet.engine.providers.client import ProviderError, tls_problem

MAX_CERTIFICATES = 100  # trusted per provider; a real chain has a handful


class InvalidCertificate(ValueError):
    """An imported certificate that is not one."""


@dataclass(frozen=True)
class Certificate:
    pem: str
    fingerprint: str  # SHA-256 of the DER, hex
    subject: str  # RFC 4514
    organization: str | None

    @classmethod
    def of(cls, cert: x509.Certificate) -> Certificate:
        orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = str(orgs[0].value) if orgs else None
        return cls(pem=cert.public_bytes(Encoding.PEM).decode("ascii"), fingerprint=fingerprint_of(cert),
                   subject=cert.subject.rfc4514_string(), organization=organization)  # fmt: skip

    @classmethod
    def from_pem(cls, pem: str) -> Certificate:
        return cls.of(x509.load_pem_x509_certificate(pem.encode("ascii")))


def fingerprint_of(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def parse(content: str) -> list[Certificate]:
    """Every certificate in ``content``: PEM blocks (one or more), or a bare base64 DER certificate (oVirt's form)."""
    if "PRIVATE KEY" in content:
        raise InvalidCertificate("it contains a private key; import only certificates, and keep the key secret")
    if "-----BEGIN" in content:
        try:
            return [Certificate.of(cert) for cert in x509.load_pem_x509_certificates(content.encode("utf-8"))]
        except ValueError:
            raise InvalidCertificate("it is not a PEM X.509 certificate") from None
    try:
        der = base64.b64decode("".join(content.split()), validate=True)
        return [Certificate.of(x509.load_der_x509_certificate(der))]
    except (binascii.Error, ValueError):
        raise InvalidCertificate("it is neither a PEM certificate nor a base64 DER certificate") from None


def merged(trusted: Iterable[str], imported: Iterable[Certificate]) -> tuple[list[str], list[Certificate]]:
    """The trusted PEMs with ``imported`` added (each certificate once), and the certificates that were new."""
    pems = list(trusted)
    known = {Certificate.from_pem(pem).fingerprint for pem in pems}
    new: list[Certificate] = []
    for cert in imported:
        if cert.fingerprint not in known:
            known.add(cert.fingerprint)
            pems.append(cert.pem)
            new.append(cert)
    return pems, new


# --- the chain a provider presents ----------------------------------------------------------------------------


def endpoints(*urls: str | None) -> list[tuple[str, int]]:
    """The distinct (host, port) of the https URLs among ``urls``."""
    found: list[tuple[str, int]] = []
    for url in urls:
        parts = urlsplit(url or "")
        if parts.scheme.lower() == "https" and parts.hostname:
            address = (parts.hostname, parts.port or 443)
            if address not in found:
                found.append(address)
    return found


def fetch_chain(host: str, port: int, provider: str, connect_timeout: float, read_timeout: float) -> list[Certificate]:
    """The certificates ``host:port`` presents, in its order (its own first, then each one's issuer), unverified."""
    prefix = f"Failed to read the certificate chain of {host}:{port} on provider '{provider}'"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the point is to show what is presented before anything is trusted
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        raise ProviderError("timeout", f"{prefix}: it did not accept the connection in time") from None
    except OSError as err:
        raise ProviderError("unreachable", f"{prefix}: it is unreachable ({err.strerror or err})") from None
    try:
        sock.settimeout(read_timeout)
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return [Certificate.of(x509.load_der_x509_certificate(der)) for der in _presented(tls)]
    except TimeoutError:
        raise ProviderError("timeout", f"{prefix}: it did not answer in time") from None
    except ssl.SSLError as err:
        raise ProviderError("tls", f"{prefix}: {tls_problem(str(err))}") from None
    except OSError as err:
        raise ProviderError("unreachable", f"{prefix}: the connection failed ({err.strerror or err})") from None
    finally:
        sock.close()


def _presented(tls: ssl.SSLSocket) -> list[bytes]:
    """The DER certificates the peer sent. ``get_unverified_chain`` is public from Python 3.13 (DER bytes) and
    private on the ``_sslobj`` since 3.10 (certificate objects)."""
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        return [bytes(der) for der in public() or ()]
    private = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:
        der_encoding = 2  # _ssl.ENCODING_DER
        return [cert.public_bytes(der_encoding) for cert in private() or ()]
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []
