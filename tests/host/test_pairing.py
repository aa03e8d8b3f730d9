"""Pairing: nothing answers a caller without the per-host secret; the secret comes from the pairing password."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from extnet.common import hostrpc
from tests.host.rpc import Rpc, RpcError, vif
from tests.servers import HostAgentProcess, free_port

AUTHENTICATED_METHODS = sorted(
    {hostrpc.PING, hostrpc.GET_CAPABILITIES, hostrpc.SET_PROVIDERS, hostrpc.VM_CREATE, hostrpc.VM_DESTROY,
     hostrpc.VM_HOTPLUG_NIC, hostrpc.VM_HOTUNPLUG_NIC, hostrpc.VM_GET_STATS, hostrpc.UNPAIR}
)  # fmt: skip


def assert_nothing(response: httpx.Response) -> None:
    """The answer to a caller without the secret: 401, an empty body, no server banner."""
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.content == b""
    assert "server" not in response.headers


@pytest.mark.parametrize("method", AUTHENTICATED_METHODS)
def test_an_unpaired_caller_gets_401_and_nothing_else(shared_agent: HostAgentProcess, paired: Rpc, method: str) -> None:
    params = {"vm": {"id": str(uuid.uuid4()), "name": "x", "vifs": [vif()]}, "vm_id": str(uuid.uuid4())}
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    anonymous = Rpc(shared_agent.url)
    assert_nothing(anonymous.post(request))
    assert_nothing(anonymous.post(request, secret="not-the-secret"))
    assert_nothing(httpx.post(shared_agent.url, json=request, headers={"Authorization": f"Basic {paired.secret}"},
                              verify=False))  # fmt: skip
    assert_nothing(anonymous.post([request]))  # a batch
    if method != hostrpc.UNPAIR:  # the same request with the secret is served (whatever its outcome)
        assert paired.post(request).status_code == 200


def test_an_unpaired_caller_learns_nothing_from_other_requests(shared_agent: HostAgentProcess, paired: Rpc) -> None:
    base = shared_agent.url.removesuffix("/jsonrpc")
    with httpx.Client(verify=False) as client:  # the agent's certificate is its own, self-signed
        check_what_an_unpaired_caller_learns(client, shared_agent, paired, base)


def check_what_an_unpaired_caller_learns(client: httpx.Client, shared_agent: HostAgentProcess, paired: Rpc,
                                         base: str) -> None:  # fmt: skip
    for response in (
        client.get(shared_agent.url), client.get(base + "/"), client.get(base + "/no/such/path"),
        client.put(shared_agent.url, content=b"{}"), client.post(shared_agent.url, content=b"not json"),
        client.post(shared_agent.url, content=b"x" * (5 * 1024 * 1024)),
        client.post(shared_agent.url, json=[{"jsonrpc": "2.0", "id": 1, "method": "Host.pair",
                                             "params": {"password": shared_agent.password}}]),
    ):  # fmt: skip
        assert_nothing(response)
    # with the secret, the same mistakes are explained
    wrong_path = client.get(base + "/no/such/path", headers={"Authorization": f"Bearer {paired.secret}"})
    assert wrong_path.status_code == 404 and "/jsonrpc" in wrong_path.json()["error"]["message"]


def test_pairing_with_the_right_password_and_the_wrong_one(agent: HostAgentProcess) -> None:
    anonymous = Rpc(agent.url)
    with pytest.raises(RpcError) as err:
        anonymous.call("Host.pair", {"password": "wrong"})
    assert err.value.code == hostrpc.ErrorCode.PAIRING_REFUSED and err.value.message == "the pairing password is wrong"
    with pytest.raises(RpcError) as err:
        anonymous.call("Host.pair", {})
    assert err.value.code == hostrpc.ErrorCode.INVALID_PARAMS and "password" in err.value.message

    client = anonymous.pair(agent.password)
    assert client.call("Host.ping")["unique_id"]
    # identify (with the password) says who the agent is and changes nothing
    identity = anonymous.call("Host.identify", {"password": agent.password})
    assert identity["paired"] is True and identity["unique_id"] == client.call("Host.ping")["unique_id"]
    # the secret is kept as a digest, the password as a scrypt hash: neither in clear
    stored = (agent.data_dir / "pairing.json").read_text()
    assert client.secret not in stored and agent.password not in stored and "scrypt$" in stored
    assert (agent.data_dir / "pairing.json").stat().st_mode & 0o077 == 0


def test_pairing_again_needs_the_password_and_replaces_the_secret(agent: HostAgentProcess) -> None:
    first = Rpc(agent.url).pair(agent.password)
    with pytest.raises(RpcError):
        Rpc(agent.url).call("Host.pair", {"password": "guess"})
    assert first.call("Host.ping")  # a wrong password replaced nothing
    second = Rpc(agent.url).pair(agent.password)
    assert second.secret != first.secret
    assert second.call("Host.ping")
    assert_nothing(first.post({"jsonrpc": "2.0", "id": 1, "method": "Host.ping"}))


def test_the_pairing_survives_a_restart_and_unpair_forgets_it(agent: HostAgentProcess) -> None:
    client = Rpc(agent.url).pair(agent.password)
    agent.stop()
    agent.start()
    assert client.call("Host.ping")
    assert client.call("Host.unpair") == {}
    assert_nothing(client.post({"jsonrpc": "2.0", "id": 1, "method": "Host.ping"}))
    assert Rpc(agent.url).call("Host.identify", {"password": agent.password})["paired"] is False


def test_wrong_passwords_are_throttled(agent: HostAgentProcess) -> None:
    anonymous = Rpc(agent.url)
    codes = []
    for _ in range(6):
        with pytest.raises(RpcError) as err:
            anonymous.call("Host.pair", {"password": "guess"})
        codes.append(err.value.code)
    assert codes == [hostrpc.ErrorCode.PAIRING_REFUSED] * 5 + [hostrpc.ErrorCode.PAIRING_THROTTLED]
    with pytest.raises(RpcError) as err:  # even the right password, until the window has passed
        anonymous.call("Host.pair", {"password": agent.password})
    assert err.value.code == hostrpc.ErrorCode.PAIRING_THROTTLED and "try again in" in err.value.message
    assert 0 < err.value.data["retry_after"] <= 60


def test_a_generated_pairing_password_is_shown_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTNET_HOST_")}  # no EXTNET_HOST_PAIRING_PASSWORD
    agent = HostAgentProcess("127.0.0.1", free_port(), "", tmp_path / "h", env)
    agent.data_dir.mkdir()
    agent.start()
    try:
        match = wait_for_log(agent, r"Generated the pairing password of this host agent .*: (\S+)")
        password = match.group(1)
        assert Rpc(agent.url).pair(password).call("Host.ping")
        agent.stop()
        before = agent.log().count("Generated the pairing password")
        agent.start()
        assert agent.log().count("Generated the pairing password") == before  # not again
        assert Rpc(agent.url).pair(password).call("Host.ping")  # and still the same password
    finally:
        agent.stop()


def test_a_runtime_that_cannot_run_here_says_why_and_generates_nothing(tmp_path: Path) -> None:
    for runtime in ("libvirt",):
        result = subprocess.run([sys.executable, "-m", "extnet", "host", "--runtime", runtime, "--data-dir",
                                 str(tmp_path / runtime)], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"runtime '{runtime}'" in result.stderr and "give --guest-kernel and --guest-initrd" in result.stderr
        assert "Traceback" not in result.stderr and "ERROR" not in result.stderr
        assert not (tmp_path / runtime / "pairing.json").exists()  # no password generated and lost


def wait_for_log(agent: HostAgentProcess, pattern: str, deadline_s: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        match = re.search(pattern, agent.log())
        if match:
            return match
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the agent's log:\n{agent.log()}")
