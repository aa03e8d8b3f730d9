"""A plain JSON-RPC 2.0 client for the host agent's tests (httpx, so what goes over the wire is what the test says),
and VIF documents to send it."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from extnet.common.vif import devname_for

_ids = itertools.count(1)


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class Rpc:
    def __init__(self, url: str, secret: str | None = None) -> None:
        self.url = url
        self.secret = secret

    def post(self, payload: Any, secret: str | None = None, **kwargs: Any) -> httpx.Response:
        token = secret if secret is not None else self.secret
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url, json=payload, headers=headers, timeout=30, verify=False, **kwargs)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        request_id = next(_ids)
        response = self.post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        assert response.status_code == 200, (response.status_code, response.text)
        document = response.json()
        assert document["jsonrpc"] == "2.0" and document["id"] == request_id, document
        if "error" in document:
            error = document["error"]
            raise RpcError(error["code"], error["message"], error.get("data") or {})
        return document["result"]

    def pair(self, password: str) -> Rpc:
        """A client with the secret of a new pairing."""
        secret = Rpc(self.url).call("Host.pair", {"password": password})["secret"]
        return Rpc(self.url, secret)


def vif(**overrides: Any) -> dict[str, Any]:
    """A valid VIF document (version 1.0) for a new vNIC and port; ``overrides`` replace its fields."""
    port_id = overrides.pop("port_id", str(uuid.uuid4()))
    document: dict[str, Any] = {
        "version": "1.0", "vnic_id": str(uuid.uuid4()), "vnic_name": "nic1", "port_id": port_id,
        "devname": devname_for(port_id), "mac": _mac(), "mtu": 1450, "model": "virtio",
        "network": {"id": str(uuid.uuid4()), "name": "net1"},
        "provider": {"id": str(uuid.uuid4()), "type": "external"}, "plugin_type": "open_vswitch",
        "vif_type": "ovs",
        "vif_details": {"port_filter": True, "bridge_name": "br-int", "datapath_type": "system",
                        "ovs_hybrid_plug": False},
        "fixed_ips": [{"subnet_id": str(uuid.uuid4()), "ip_address": "10.0.0.5"}],
        "security_groups": [str(uuid.uuid4())], "plugged": True, "linked": True,
    }  # fmt: skip
    document.update(overrides)
    return document


def _mac() -> str:
    raw = uuid.uuid4().bytes[:5]
    return "fa:" + ":".join(f"{b:02x}" for b in raw)
