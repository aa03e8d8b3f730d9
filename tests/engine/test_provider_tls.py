"""HTTPS providers signed by a private CA (the presented chain, importcertificates, verification from then on), and
the connect/read timeouts and re-authentication of provider calls."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.provider.process import issue_token
from tests.servers import EngineProcess, free_port, run_engine, scratch_database

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

Service = Any  # ovirtsdk4's OpenstackNetworkProviderService

# --- a private PKI ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "extnet tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])  # fmt: skip


def make_ca(common_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return Issued(cert, key)


def make_server(ca: Issued, common_name: str, names: list[x509.GeneralName]) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca.key, hashes.SHA256())
    )  # fmt: skip
    return Issued(cert, key)


@dataclass(frozen=True)
class Pki:
    ca: Issued
    server: Issued  # signed by ca, IP SAN 127.0.0.1
    other_ca: Issued
    other_server: Issued  # signed by other_ca, IP SAN 127.0.0.1


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca, other_ca = make_ca("extnet test CA"), make_ca("extnet other CA")
    loopback: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return Pki(ca, make_server(ca, "provider", loopback), other_ca, make_server(other_ca, "provider-rotated", loopback))


def write_tls_files(directory: Path, server: Issued, *chain: Issued) -> tuple[Path, Path]:
    """The certificate file (the server's certificate, then ``chain``) and key file a provider serves."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"cert-{uuid.uuid4().hex[:8]}.pem", directory / f"key-{uuid.uuid4().hex[:8]}.pem"
    cert.write_text("".join(issued.pem for issued in (server, *chain)))
    key.write_bytes(server.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))  # fmt: skip
    return cert, key


# --- the built-in provider over HTTPS -----------------------------------------------------------------------------


@dataclass
class TlsProvider:
    port: int
    keystone_port: int
    process: subprocess.Popen[bytes]

    @property
    def network_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"https://127.0.0.1:{self.keystone_port}/v3"


@contextlib.contextmanager
def run_tls_provider(
    data_dir: Path, tls: tuple[Path, Path], database_url: str | None, ports: tuple[int, int] | None = None
) -> Iterator[TlsProvider]:
    port, keystone_port = ports or (free_port(), free_port())
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "extnet", "provider", "--listen", f"127.0.0.1:{port}", "--keystone-listen",
            f"127.0.0.1:{keystone_port}", "--data-dir", str(data_dir), "--tls-cert", str(tls[0]), "--tls-key",
            str(tls[1])]  # fmt: skip
    if database_url:
        args += ["--database-url", database_url]
    log_path = data_dir / f"provider-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "EXTNET_ADMIN_PASSWORD": PROVIDER_PASSWORD})  # fmt: skip
    provider = TlsProvider(port, keystone_port, process)
    try:
        for url in (provider.network_url + "/", provider.auth_url):
            _wait_for_https(url, process, log_path)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_https(url: str, process: subprocess.Popen[bytes], log_path: Path, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"provider exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=2, verify=False)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"provider did not answer at {url} within {deadline_s}s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def provider_database() -> Iterator[Callable[[], contextlib.AbstractContextManager[str | None]]]:
    """Fresh provider databases on the PostgreSQL server under test (SQLite in the data dir otherwise)."""
    server = os.environ.get("EXTNET_TEST_DATABASE_URL")
    yield lambda: scratch_database(server)


@pytest.fixture(scope="module")
def tls_provider(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory,
    provider_database: Callable[[], contextlib.AbstractContextManager[str | None]],
) -> Iterator[TlsProvider]:  # fmt: skip
    """The built-in provider on HTTPS, presenting its certificate and the private CA's."""
    data_dir = tmp_path_factory.mktemp("tls-provider")
    with provider_database() as database, run_tls_provider(
        data_dir, write_tls_files(data_dir, pki.server, pki.ca), database
    ) as provider:  # fmt: skip
        yield provider


def providers(system: sdk.services.SystemService) -> Any:
    return system.openstack_network_providers_service()


def add_https(add_provider: Callable[..., Any], tls: TlsProvider, host: str = "127.0.0.1") -> Any:
    return add_provider(url=tls.network_url.replace("127.0.0.1", host),
                        authentication_url=tls.auth_url.replace("127.0.0.1", host))  # fmt: skip


def fingerprint(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256())


def fault_of(call: Callable[[], Any]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


# --- the private CA flow ------------------------------------------------------------------------------------------


@pytest.mark.builtin_provider_only("an HTTPS provider with a private CA, its --tls-cert")
def test_private_ca_chain_import_and_verification(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], tls_provider: TlsProvider, pki: Pki
) -> None:
    provider = add_https(add_provider, tls_provider)
    service = providers(system).provider_service(provider.id)

    err = fault_of(service.test_connectivity)
    assert err.code == 400 and provider.name in str(err)
    assert "TLS verification failed" in str(err) and "importcertificates" in str(err)

    chain = service.certificates_service().list()
    assert [(c.id, c.subject) for c in chain] == [("0", pki.server.subject), ("1", pki.ca.subject)]
    assert [fingerprint(c.content) for c in chain] == [pki.server.cert.fingerprint(hashes.SHA256()),
                                                       pki.ca.cert.fingerprint(hashes.SHA256())]  # fmt: skip
    assert {c.organization for c in chain} == {"extnet tests"}
    assert all(c.description == "not imported" for c in chain)
    assert service.certificates_service().certificate_service("1").get().subject == pki.ca.subject
    assert list(service.get().certificates or []) == []

    service.import_certificates(certificates=[types.Certificate(content=c.content) for c in chain])
    service.test_connectivity()

    imported = service.get().certificates
    assert sorted(c.subject for c in imported) == sorted([pki.server.subject, pki.ca.subject])
    assert {c.id for c in imported} == {pki.server.cert.fingerprint(hashes.SHA256()).hex(),
                                        pki.ca.cert.fingerprint(hashes.SHA256()).hex()}  # fmt: skip
    assert all(c.description.startswith("imported") for c in service.certificates_service().list())
    events = system.events_service().list(search=f"provider={provider.id}")
    assert any(e.code == 1706 and "Imported 2 certificate(s)" in (e.description or "") for e in events)


@pytest.mark.builtin_provider_only("an HTTPS provider with a private CA, its --tls-cert")
def test_importing_the_ca_alone_or_the_leaf_alone_is_enough(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], tls_provider: TlsProvider, pki: Pki
) -> None:
    for issued in (pki.ca, pki.server):  # any imported certificate is a trust anchor, as in oVirt's trust store
        service = providers(system).provider_service(add_https(add_provider, tls_provider).id)
        service.import_certificates(certificates=[types.Certificate(content=issued.pem)])
        service.test_connectivity()


@pytest.mark.builtin_provider_only("an HTTPS provider with a private CA, its --tls-cert")
def test_hostname_is_verified(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], tls_provider: TlsProvider, pki: Pki
) -> None:
    """The certificate names 127.0.0.1 only: reached as localhost it is refused even though its CA is trusted."""
    service = providers(system).provider_service(add_https(add_provider, tls_provider, host="localhost").id)
    service.import_certificates(certificates=[types.Certificate(content=pki.ca.pem)])
    err = fault_of(service.test_connectivity)
    assert err.code == 400 and "not valid for the host of its url" in str(err) and "localhost" in str(err)


@pytest.mark.builtin_provider_only("it restarts an HTTPS provider with another certificate")
def test_certificate_rotated_to_another_ca(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], pki: Pki, tmp_path: Path,
    provider_database: Callable[[], contextlib.AbstractContextManager[str | None]],
) -> None:  # fmt: skip
    """The same provider restarts with a certificate of another CA (presenting its own certificate only): verification
    fails again until the new certificate is imported."""
    ports = (free_port(), free_port())
    with provider_database() as database:
        with run_tls_provider(tmp_path, write_tls_files(tmp_path, pki.server, pki.ca), database, ports) as first:
            service = providers(system).provider_service(add_https(add_provider, first).id)
            service.import_certificates(certificates=[types.Certificate(content=pki.ca.pem)])
            service.test_connectivity()
        with run_tls_provider(tmp_path, write_tls_files(tmp_path, pki.other_server), database, ports):
            err = fault_of(service.test_connectivity)
            assert "TLS verification failed" in str(err)
            chain = service.certificates_service().list()
            assert [(c.subject, c.description) for c in chain] == [(pki.other_server.subject, "not imported")]
            service.import_certificates(certificates=[types.Certificate(content=chain[0].content)])
            service.test_connectivity()
            assert len(service.get().certificates) == 2  # imports add to the trust; they never drop a certificate


@pytest.mark.builtin_provider_only("an HTTPS provider with a private CA, its --tls-cert")
def test_https_keystone_catalog_points_at_the_https_network_api(
    tls_provider: TlsProvider, pki: Pki, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(pki.ca.pem)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": PROVIDER_PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}  # fmt: skip
    answer = httpx.post(f"{tls_provider.auth_url}/auth/tokens", json=body, verify=str(ca_file), timeout=30)
    assert answer.status_code == 201, answer.text
    catalog = answer.json()["token"]["catalog"]
    urls = {e["url"].rstrip("/") for s in catalog if s["type"] == "network" for e in s["endpoints"]}
    assert urls == {tls_provider.network_url}


# --- importcertificates input -------------------------------------------------------------------------------------


def test_import_accepts_bundles_and_ovirt_base64_der_and_deduplicates(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], pki: Pki
) -> None:
    service = providers(system).provider_service(add_provider().id)
    bundle = pki.server.pem + pki.ca.pem  # one content holding the whole chain
    service.import_certificates(certificates=[types.Certificate(content=bundle)])
    der = base64.b64encode(pki.other_ca.cert.public_bytes(serialization.Encoding.DER)).decode()
    service.import_certificates(certificates=[types.Certificate(content=der), types.Certificate(content=pki.ca.pem)])
    subjects = [c.subject for c in service.get().certificates]
    assert sorted(subjects) == sorted([pki.server.subject, pki.ca.subject, pki.other_ca.subject])


@pytest.mark.parametrize(
    ("contents", "fragments"),
    [
        ([], ["needs at least one certificate"]),
        ([""], ["Certificate 1 of the import", "has no content"]),
        (["garbage"], ["Certificate 1 of the import", "neither a PEM certificate nor a base64 DER certificate"]),
        (["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"], ["is not a PEM X.509 certificate"]),
        (["{ca}", "garbage", ""], ["Certificate 2 of the import", "Certificate 3 of the import"]),
        (["{key}"], ["contains a private key"]),
    ],
)
def test_import_rejects_what_is_not_a_certificate(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], pki: Pki, contents: list[str],
    fragments: list[str],
) -> None:  # fmt: skip
    provider = add_provider()
    service = providers(system).provider_service(provider.id)
    key = pki.server.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()  # fmt: skip
    sent = [types.Certificate(content=c.format(ca=pki.ca.pem, key=key) or None) for c in contents]
    err = fault_of(lambda: service.import_certificates(certificates=sent))
    assert err.code == 400 and provider.name in str(err)
    assert all(fragment in str(err) for fragment in fragments), str(err)
    assert "PRIVATE KEY" not in str(err)
    assert list(service.get().certificates or []) == []  # nothing of a refused import is kept


@pytest.mark.builtin_provider_only("an HTTPS provider with a private CA, its --tls-cert")
def test_import_and_certificates_in_json(
    rest: httpx.Client, add_provider: Callable[..., Any], tls_provider: TlsProvider, pki: Pki
) -> None:
    provider_id = add_https(add_provider, tls_provider).id
    chain = rest.get(f"openstacknetworkproviders/{provider_id}/certificates")
    assert chain.status_code == 200, chain.text
    certificates = chain.json()["certificate"]
    assert [c["subject"] for c in certificates] == [pki.server.subject, pki.ca.subject]
    answer = rest.post(f"openstacknetworkproviders/{provider_id}/importcertificates",
                       json={"certificates": {"certificate": [{"content": certificates[1]["content"]}]}})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["status"] == "complete", answer.text
    provider = rest.get(f"openstacknetworkproviders/{provider_id}").json()
    assert [c["subject"] for c in provider["certificates"]["certificate"]] == [pki.ca.subject]
    assert rest.post(f"openstacknetworkproviders/{provider_id}/testconnectivity", json={}).status_code == 200
    missing = rest.get(f"openstacknetworkproviders/{provider_id}/certificates/7")
    assert missing.status_code == 404 and "certificate '7'" in missing.json()["detail"]


# --- reading the chain: what else can happen ----------------------------------------------------------------------


def test_certificates_of_http_unreachable_plain_and_unmanaged_providers(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], builtin_provider: Any
) -> None:
    plain = providers(system).provider_service(add_provider().id)
    assert list(plain.certificates_service().list()) == []  # http: nothing is presented

    closed = providers(system).provider_service(add_provider(url=f"https://127.0.0.1:{free_port()}").id)
    err = fault_of(closed.certificates_service().list)
    assert err.code == 400 and "unreachable" in str(err) and "certificate chain" in str(err)

    not_tls = add_provider(url=builtin_provider.network_url.replace("http://", "https://"))
    service = providers(system).provider_service(not_tls.id)
    for call in (service.certificates_service().list, service.test_connectivity):
        err = fault_of(call)
        assert err.code == 400 and "does not speak TLS" in str(err) and not_tls.name in str(err)

    unmanaged = providers(system).provider_service(add_provider(unmanaged=True).id)
    err = fault_of(unmanaged.certificates_service().list)
    assert err.code == 409 and "unmanaged" in str(err)


# --- timeouts ----------------------------------------------------------------------------------------------------

CONNECT_TIMEOUT, READ_TIMEOUT = 1.0, 3.0


@pytest.fixture(scope="module")
def quick_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine of its own whose provider calls give up after 1 s connecting and 3 s waiting for an answer."""
    env = {"EXTNET_PROVIDER_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT), "EXTNET_PROVIDER_READ_TIMEOUT": str(READ_TIMEOUT)}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as database,
        run_engine(tmp_path_factory.mktemp("quick-engine"), database, env=env) as engine,
    ):
        yield engine


@pytest.fixture
def quick(
    quick_engine: EngineProcess, unique: Callable[[str], str],
    system_of: Callable[[EngineProcess], sdk.services.SystemService],
) -> Callable[..., Service]:  # fmt: skip
    """Adds unauthenticated providers at a url to the quick engine; returns their services."""
    service = system_of(quick_engine).openstack_network_providers_service()

    def make(url: str) -> Service:
        provider = service.add(types.OpenStackNetworkProvider(
            name=unique("slow"), url=url, requires_authentication=False,
            type=types.OpenStackNetworkProviderType.EXTERNAL,
        ))  # fmt: skip
        return service.provider_service(provider.id)

    return make


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
def full_port() -> Iterator[int]:
    """A port whose accept queue is full: new connections are never accepted."""
    with socket.socket() as listener, contextlib.ExitStack() as fillers:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(8):
            filler = fillers.enter_context(socket.socket())
            filler.settimeout(0.3)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # the queue is full now
        else:
            pytest.fail("the accept queue never filled")
        yield port


def timed(call: Callable[[], Any]) -> tuple[sdk.Error, float]:
    started = time.monotonic()
    err = fault_of(call)
    return err, time.monotonic() - started


def test_a_provider_that_never_answers_times_out(quick: Callable[..., Service], silent_port: int) -> None:
    service = quick(f"http://127.0.0.1:{silent_port}")
    err, elapsed = timed(service.test_connectivity)
    assert err.code == 400 and "did not answer in time" in str(err)
    assert READ_TIMEOUT - 0.5 <= elapsed < READ_TIMEOUT + 5

    tls = quick(f"https://127.0.0.1:{silent_port}")  # no TLS handshake answer either
    err, elapsed = timed(tls.certificates_service().list)
    assert err.code == 400 and "did not answer in time" in str(err) and "certificate chain" in str(err)
    assert READ_TIMEOUT - 0.5 <= elapsed < READ_TIMEOUT + 5


def test_a_provider_that_never_accepts_times_out_on_the_connect_timeout(
    quick: Callable[..., Service], full_port: int
) -> None:
    service = quick(f"http://127.0.0.1:{full_port}")
    err, elapsed = timed(service.test_connectivity)
    assert err.code == 400 and "did not accept the connection in time" in str(err)
    assert CONNECT_TIMEOUT - 0.5 <= elapsed < READ_TIMEOUT  # the connect timeout, not the read one


# --- re-authentication -------------------------------------------------------------------------------------------


# keystonemiddleware in front of a real Neutron caches validated tokens (token_cache_time, 300 s by default): a
# revoked token keeps working there for minutes; the test passes against one with token_cache_time = -1
@pytest.mark.builtin_provider_only("an immediate 401 for a revoked token; Neutron's keystonemiddleware caches tokens")
def test_revoked_token_is_replaced_by_reauthentication(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], builtin_provider: Any,
    unique: Callable[[str], str],
) -> None:  # fmt: skip
    """The provider revokes every token of the engine's user (a password reset does): the next call gets a 401 for
    the token the engine still holds, keystoneauth authenticates again and the call succeeds."""
    admin = builtin_provider.connect()
    name, password = unique("engine-user"), "engine-user-secret"
    user = admin.identity.create_user(name=name, password=password, domain_id="default")
    admin.identity.assign_project_role_to_user(admin.identity.find_project("admin"), user,
                                               admin.identity.find_role("admin"))  # fmt: skip

    def set_password(new: str) -> None:
        answer = httpx.patch(f"{builtin_provider.identity_url}/v3/users/{user.id}", json={"user": {"password": new}},
                             headers={"X-Auth-Token": builtin_provider.token()})  # fmt: skip
        assert answer.status_code == 200, answer.text

    try:
        service = providers(system).provider_service(add_provider(username=name, password=password).id)
        service.test_connectivity()  # the engine now holds a token
        earlier = issue_token(builtin_provider.auth_url, name, password, "admin")
        set_password(password)  # the same password: every token of the user is revoked
        rejected = httpx.get(f"{builtin_provider.network_url}/v2.0/networks", headers={"X-Auth-Token": earlier})
        assert rejected.status_code == 401  # so is the engine's token
        service.test_connectivity()

        set_password("changed-" + password)
        err = fault_of(service.test_connectivity)
        assert err.code == 400 and "authentication failed" in str(err)
    finally:
        admin.identity.delete_user(user)
        admin.close()
