"""Talking to host agents: JSON-RPC 2.0 over HTTPS with the per-host secret, separate connect and read timeouts, and
every failure a ``HostAgentError`` whose message names the host and says what to do.

The agent's certificate is self-signed; pairing records its SHA-256 fingerprint (the pin), and every later connection
compares what the agent presents with the pin right after the TLS handshake, before a byte of a request (and so of
the host's secret or a provider's credentials) is sent. A host with a secret but no pin is not called at all."""

from __future__ import annotations

import http.client
import itertools
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from extnet.common import hostrpc
from extnet.common.hostrpc import ErrorCode
from extnet.common.tls import fingerprint_of_der, pinned_context
from extnet.common.vif import Vif

REPAIR = ("pair it again: the host's install action with the agent's pairing password as root_password "
          "(EXTNET_HOST_PAIRING_PASSWORD on the host sets it)")  # fmt: skip


class HostAgentError(Exception):
    """A call to a host agent failed. ``kind``: unreachable, timeout, unauthorized, not_agent, or rpc (the agent
    answered a JSON-RPC error: ``code`` and ``data`` say which)."""

    def __init__(self, kind: str, message: str, code: int | None = None, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.data = data or {}


@dataclass(frozen=True)
class HostEndpoint:
    name: str
    address: str
    port: int
    secret: str | None = field(default=None, repr=False)
    pin: str | None = None  # SHA-256 of the agent's certificate (DER, hex), recorded at pairing

    @property
    def where(self) -> str:
        return f"{self._host()}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.where}{hostrpc.PATH}"

    def _host(self) -> str:
        return f"[{self.address}]" if ":" in self.address and not self.address.startswith("[") else self.address


@dataclass(frozen=True)
class Paired:
    secret: str = field(repr=False)
    unique_id: str
    pin: str  # the certificate the agent presented when it paired


class _Untrusted(Exception):
    def __init__(self, presented: str) -> None:
        super().__init__(presented)
        self.presented = presented


class _ConnectTimeout(Exception):
    pass


class _ReadTimeout(Exception):
    pass


@dataclass(frozen=True)
class _Answer:
    status: int
    content: bytes
    peer: str  # the fingerprint of the certificate the agent presented


_Key = tuple[str, int, str | None]  # address, port, pin


def _peer(connection: http.client.HTTPSConnection) -> str:
    sock = connection.sock
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    return fingerprint_of_der(der) if der else ""


class _Connections:
    """Kept-alive HTTPS connections to the agents, on the standard library's http.client: a call costs a third of
    what it costs through requests (a VM start makes one), and no proxy of the engine's environment ever sees a
    host's secret. A connection the agent closed meanwhile (it restarted) is retried once on a new one: every verb
    is idempotent. Connections are kept per pin: one made under another pin (or none, pairing) is never reused."""

    IDLE_PER_AGENT = 8

    def __init__(self) -> None:
        self._idle: dict[_Key, list[http.client.HTTPSConnection]] = {}
        self._lock = threading.Lock()
        self._tls = pinned_context()

    def post(self, host: HostEndpoint, body: bytes, headers: dict[str, str], timeout: tuple[float, float]) -> _Answer:
        key = (host.address.strip("[]"), host.port, host.pin)
        with self._lock:
            idle = self._idle.get(key)
            kept = idle.pop() if idle else None
        if kept is not None:
            try:
                return self._send(kept, key, body, headers, timeout[1])
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected,
                    ssl.SSLEOFError, ssl.SSLZeroReturnError):  # fmt: skip
                pass
        return self._send(self._open(key, timeout[0]), key, body, headers, timeout[1])

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _open(self, key: _Key, connect_timeout: float) -> http.client.HTTPSConnection:
        connection = http.client.HTTPSConnection(key[0], key[1], timeout=connect_timeout, context=self._tls)
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise _ConnectTimeout from None
        presented = _peer(connection)
        if key[2] is not None and presented != key[2]:
            connection.close()
            raise _Untrusted(presented)
        return connection

    def _send(self, connection: http.client.HTTPSConnection, key: _Key, body: bytes,
              headers: dict[str, str], read_timeout: float) -> _Answer:  # fmt: skip
        try:
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout)
            connection.request("POST", hostrpc.PATH, body=body, headers=headers)
            response = connection.getresponse()
            answer = _Answer(response.status, response.read(), _peer(connection))
        except TimeoutError:
            connection.close()
            raise _ReadTimeout from None
        except BaseException:
            connection.close()
            raise
        if response.will_close or not self._keep(key, connection):
            connection.close()
        return answer

    def _keep(self, key: _Key, connection: http.client.HTTPSConnection) -> bool:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) >= self.IDLE_PER_AGENT:
                return False
            idle.append(connection)
            return True


class HostAgentClient:
    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 30.0, first_beat_wait: float = 5.0) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # how long handing a host its providers waits for them to take its first heartbeats
        self.first_beat_wait = min(max(first_beat_wait, 0.0), hostrpc.MAX_FIRST_BEAT_WAIT)
        self._connections = _Connections()
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._connections.close()

    def call(self, host: HostEndpoint, method: str, params: dict[str, Any] | None = None,
             read_timeout: float | None = None) -> Any:  # fmt: skip
        return self._call(host, method, params, read_timeout)[0]

    def _call(self, host: HostEndpoint, method: str, params: dict[str, Any] | None = None,
              read_timeout: float | None = None) -> tuple[Any, str]:  # fmt: skip
        """The result, and the fingerprint of the certificate the agent presented."""
        if host.secret and not host.pin:
            raise HostAgentError("untrusted", f"Host '{host.name}': this engine holds no certificate of its agent at "
                                 f"{host.where} to check it by, and sends it nothing; {REPAIR}")  # fmt: skip
        request_id = next(self._ids)
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        headers = {"Content-Type": "application/json"}
        if host.secret:
            headers["Authorization"] = f"Bearer {host.secret}"
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        try:
            answer = self._connections.post(host, body, headers, timeout)
        except _ConnectTimeout:
            raise HostAgentError("timeout", f"Host '{host.name}': its agent at {host.where} did not accept a "
                                 f"connection within {timeout[0]:g} s; check the host's address and any "
                                 "firewall between the engine and the host") from None  # fmt: skip
        except _ReadTimeout:
            raise HostAgentError("timeout", f"Host '{host.name}': its agent at {host.where} did not answer "
                                 f"{method} within {timeout[1]:g} s") from None  # fmt: skip
        except _Untrusted as err:
            raise HostAgentError("untrusted", f"Host '{host.name}': what answers at {host.where} presents a "
                                 f"certificate (SHA-256 {_short(err.presented)}) other than the one its agent was "
                                 f"paired with ({_short(host.pin or '')}), and was sent nothing. If the host's agent "
                                 f"was reinstalled (a new data directory), {REPAIR}; otherwise something else "
                                 "listens at the host's address") from None  # fmt: skip
        except ssl.SSLError as err:
            raise HostAgentError("unreachable", f"Host '{host.name}': no TLS connection to its agent at {host.where} "
                                 f"({err.reason or err}); the agent serves HTTPS only: check the host's "
                                 "port") from None  # fmt: skip
        except (OSError, http.client.HTTPException) as err:
            raise HostAgentError("unreachable", f"Host '{host.name}': cannot connect to its agent at {host.where} "
                                 f"({_reason(err)}); check that `extnet host` runs there and listens on that "
                                 "address and port") from None  # fmt: skip
        return _result(host, method, answer, request_id), answer.peer

    # --- the verbs -------------------------------------------------------------------------------------------

    def identify(self, host: HostEndpoint, password: str) -> dict[str, Any]:
        return dict(self.call(host, hostrpc.IDENTIFY, {"password": password}))

    def pair(self, host: HostEndpoint, password: str) -> Paired:
        """Pair, and pin the certificate the agent presented while it did."""
        result, presented = self._call(host, hostrpc.PAIR, {"password": password})
        if not isinstance(result, dict) or not isinstance(result.get("secret"), str) or not presented:
            raise HostAgentError("not_agent", f"Host '{host.name}': the agent at {host.where} answered the pairing "
                                 "without a secret")  # fmt: skip
        return Paired(result["secret"], str(result.get("unique_id") or ""), presented)

    def unpair(self, host: HostEndpoint) -> None:
        self.call(host, hostrpc.UNPAIR)

    def ping(self, host: HostEndpoint, read_timeout: float | None = None) -> dict[str, Any]:
        return dict(self.call(host, hostrpc.PING, read_timeout=read_timeout))

    def capabilities(self, host: HostEndpoint) -> dict[str, Any]:
        return dict(self.call(host, hostrpc.GET_CAPABILITIES))

    def set_providers(self, host: HostEndpoint, providers: list[dict[str, Any]], digest: str) -> list[Any]:
        """Hand the agent its providers; the states of its heartbeats once each provider took the first beat or
        refused it (or ``first_beat_wait`` passed)."""
        wait = self.first_beat_wait
        result = self.call(host, hostrpc.SET_PROVIDERS, {"providers": providers, "digest": digest, "wait": wait},
                           read_timeout=self.read_timeout + wait)  # fmt: skip
        beats = result.get("heartbeats") if isinstance(result, dict) else None
        return list(beats) if isinstance(beats, list) else list(self.ping(host).get("heartbeats") or [])

    def vm_create(self, host: HostEndpoint, vm_id: str, name: str, vifs: list[Vif]) -> dict[str, str]:
        """Run the VM with its VIFs; returns the status the providers answered the host for the plugged ports."""
        vm = {"id": vm_id, "name": name, "vifs": [vif.to_json() for vif in vifs]}
        return port_status(self.call(host, hostrpc.VM_CREATE, {"vm": vm}))

    def vm_destroy(self, host: HostEndpoint, vm_id: str) -> bool:
        return bool(self.call(host, hostrpc.VM_DESTROY, {"vm_id": vm_id})["destroyed"])

    def vm_hotplug_nic(self, host: HostEndpoint, vm_id: str, vif: Vif) -> dict[str, str]:
        """Plug the VIF; returns the status its provider answered the host for the port (if it did)."""
        return port_status(self.call(host, hostrpc.VM_HOTPLUG_NIC, {"vm_id": vm_id, "vif": vif.to_json()}))

    def vm_hotunplug_nic(self, host: HostEndpoint, vm_id: str, vnic_id: str) -> bool:
        return bool(self.call(host, hostrpc.VM_HOTUNPLUG_NIC, {"vm_id": vm_id, "vnic_id": vnic_id})["unplugged"])

    def vm_stats(self, host: HostEndpoint, vm_id: str | None = None) -> dict[str, Any]:
        return dict(self.call(host, hostrpc.VM_GET_STATS, {"vm_id": vm_id} if vm_id else {}))


def port_status(result: Any) -> dict[str, str]:
    """{port id: status} of a plug's answer: what the providers answered the host's report of the plug."""
    raw = result.get("port_status") if isinstance(result, dict) else None
    return {str(k): v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, dict) else {}


def _result(host: HostEndpoint, method: str, response: _Answer, request_id: int) -> Any:
    if response.status == 401:
        raise HostAgentError("unauthorized", f"Host '{host.name}': the agent at {host.where} does not accept this "
                             "engine's credentials (it was paired again, or its data directory was reset); "
                             f"{REPAIR}")  # fmt: skip
    not_agent = HostAgentError("not_agent", f"Host '{host.name}': {host.where} does not answer like an extnet host "
                               f"agent (HTTP {response.status} to {method}); check the host's port")  # fmt: skip
    try:
        document = orjson.loads(response.content)
    except ValueError:
        raise not_agent from None
    if not isinstance(document, dict) or document.get("jsonrpc") != "2.0" or document.get("id") != request_id:
        raise not_agent
    error = document.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message") or "failed")
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        raise HostAgentError("rpc", f"Host '{host.name}': {method} failed: {message}",
                             code if isinstance(code, int) else None, data)  # fmt: skip
    if "result" not in document:
        raise not_agent
    return document["result"]


def _causes(err: BaseException) -> list[BaseException]:
    """The exception and everything it was caused by or wraps."""
    found: list[BaseException] = []
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
        pending.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return found


def _reason(err: BaseException) -> str:
    """The root cause of a connection failure in a few words."""
    for current in _causes(err):
        if isinstance(current, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError | ConnectionAbortedError):
            return "the connection was closed"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
    text = str(err).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "the host name does not resolve"
    return type(err).__name__


def _short(fingerprint: str) -> str:
    return f"{fingerprint[:16]}..." if fingerprint else "none"


def is_pairing_refused(err: HostAgentError) -> bool:
    return err.kind == "rpc" and err.code in (ErrorCode.PAIRING_REFUSED, ErrorCode.PAIRING_THROTTLED)
