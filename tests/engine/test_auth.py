"""SSO, Basic authentication, logout, read-only users and TLS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import pytest

from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine


def test_wrong_password_is_an_auth_error(engine: EngineProcess) -> None:
    conn = sdk.Connection(url=engine.url, username="admin@internal", password="wrong")
    with pytest.raises(sdk.AuthError) as err:
        conn.system_service().get()
    assert "access_denied" in str(err.value)
    conn.close(logout=False)


def test_sdk_login_product_info_and_logout(engine: EngineProcess) -> None:
    conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD)
    api = conn.system_service().get()
    assert api.product_info.name == "extnet"
    assert (api.product_info.version.major, api.product_info.version.minor) == (4, 5)
    assert conn.test(raise_exception=True)
    token = conn.authenticate()
    conn.close()  # logs out: the token is revoked
    response = httpx.get(engine.url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_no_authentication_is_refused(engine: EngineProcess) -> None:
    for path in ("", "/datacenters", "/vms", "/nonexistent"):
        response = httpx.get(engine.url + path)
        assert response.status_code == 401
        assert "<fault>" in response.text
    assert httpx.get(f"{engine.base}/ovirt-engine/api-docs/openapi.json").status_code == 401


def test_basic_authentication(engine: EngineProcess) -> None:
    ok = httpx.get(engine.url + "/datacenters", auth=("admin@internal", ADMIN_PASSWORD))
    assert ok.status_code == 200 and "<data_centers>" in ok.text
    bad = httpx.get(engine.url + "/datacenters", auth=("admin@internal", "nope"))
    assert bad.status_code == 401


def test_sso_errors_are_json(engine: EngineProcess) -> None:
    response = httpx.post(f"{engine.base}/ovirt-engine/sso/oauth/token",
                          data={"grant_type": "password", "scope": "ovirt-app-api", "username": "nobody@internal",
                                "password": "x"})  # fmt: skip
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "access_denied"
    assert "error_description" in response.json()


def test_token_connection(engine: EngineProcess) -> None:
    token = httpx.post(
        f"{engine.base}/ovirt-engine/sso/oauth/token",
        data={"grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal",
              "password": ADMIN_PASSWORD},
    ).json()["access_token"]  # fmt: skip
    conn = sdk.Connection(url=engine.url, token=token)
    assert conn.system_service().data_centers_service().list(search="name=Default")[0].name == "Default"
    conn.close(logout=False)


def test_expired_tokens_are_refused(tmp_path: Path) -> None:
    with run_engine(tmp_path / "short", env={"EXTNET_TOKEN_TTL_SECONDS": "1"}) as short:
        conn = sdk.Connection(url=short.url, username="admin@internal", password=ADMIN_PASSWORD)
        token = conn.authenticate()
        assert httpx.get(short.url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        deadline_ok = False
        for _ in range(50):
            if httpx.get(short.url, headers={"Authorization": f"Bearer {token}"}).status_code == 401:
                deadline_ok = True
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert deadline_ok, "the token never expired"
        # the SDK re-authenticates on 401 by itself
        assert conn.system_service().get().product_info.name == "extnet"
        conn.close(logout=False)


def test_read_only_user(engine: EngineProcess) -> None:
    env_args = [sys.executable, "-m", "extnet", "engine", "user", "add", "viewer@internal", "--read-only",
                "--password", "viewpw", "--data-dir", str(engine.data_dir)]  # fmt: skip
    if engine.database_url:
        env_args += ["--database-url", engine.database_url]
    result = subprocess.run(env_args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    conn = sdk.Connection(url=engine.url, username="viewer@internal", password="viewpw")
    dcs = conn.system_service().data_centers_service()
    assert "Default" in [dc.name for dc in dcs.list()]
    import ovirtsdk4.types as t

    with pytest.raises(sdk.AuthError) as err:
        dcs.add(t.DataCenter(name="forbidden"))
    assert err.value.code == 403 and "read-only" in str(err.value)
    assert dcs.list(search="name=forbidden") == []
    conn.close()


def test_https_with_ca_file(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    with run_engine(tmp_path / "tls", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)],
                    scheme="https") as secure:  # fmt: skip
        conn = sdk.Connection(url=secure.url, username="admin@internal", password=ADMIN_PASSWORD,
                              ca_file=str(cert))  # fmt: skip
        assert conn.system_service().get().product_info.name == "extnet"
        conn.close()
        with pytest.raises(sdk.Error) as err:  # without the CA the certificate is not trusted
            sdk.Connection(url=secure.url, username="admin@internal", password=ADMIN_PASSWORD).authenticate()
        assert "certificate" in str(err.value)
