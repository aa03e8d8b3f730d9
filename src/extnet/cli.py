"""The ``extnet`` command: ``engine``, ``up`` and their helpers."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import uvicorn

from extnet.common.security import generate_password
from extnet.engine.settings import EngineSettings
from extnet.host.settings import HostSettings
from extnet.provider.settings import ProviderSettings


def _engine_settings(args: argparse.Namespace) -> EngineSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "data_dir", "database_url", "tls_cert", "tls_key", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return EngineSettings(**overrides)


def listen_address(value: str) -> str:
    """argparse type of --listen: HOST:PORT."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"'{value}' is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return value


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a nested parser must not overwrite what the outer one parsed with its own None defaults
    opt: dict[str, Any] = {"default": argparse.SUPPRESS}
    parser.add_argument("--listen", type=listen_address, help="HOST:PORT to serve on (default 127.0.0.1:8080)", **opt)
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet)", **opt)
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file in the data dir)", **opt)
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS", **opt)
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert", **opt)
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], **opt)


def _serve(settings: EngineSettings, banner: bool) -> int:
    from extnet.engine.app import build_engine

    engine = build_engine(settings)
    if engine.generated_admin_password:
        print(f"Generated the password of admin@internal (shown once): {engine.generated_admin_password}",
              flush=True)  # fmt: skip
    config = uvicorn.Config(
        engine.app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        lifespan="on",  # starts and stops the engine's background work (provider auto-sync)
    )
    server = uvicorn.Server(config)
    if banner:
        _print_banner(settings, engine.generated_admin_password)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn has already shut down gracefully; it re-raises the Ctrl-C it caught
    finally:
        engine.db.dispose()
    return 0


def _print_banner(settings: EngineSettings, generated: str | None) -> None:
    base = f"{settings.scheme}://{settings.listen}"
    if generated:
        password = generated
    elif settings.admin_password:
        password = settings.admin_password + "  (from EXTNET_ADMIN_PASSWORD)"
    else:
        password = "(generated and printed at the first start; set EXTNET_ADMIN_PASSWORD to choose it)"
    provider_password = (
        "the same password"
        if settings.admin_password
        else "password printed by the provider at its first start, or EXTNET_ADMIN_PASSWORD"
    )
    print(
        "\nextnet is starting\n"
        f"  API (oVirt REST v4):  {base}/ovirt-engine/api\n"
        f"  API description:      {base}/ovirt-engine/api-docs/openapi.json\n"
        f"  web:                  {base}/ovirt-engine/\n"
        f"  SSO token endpoint:   {base}/ovirt-engine/sso/oauth/token\n"
        f"  user:                 admin@internal\n"
        f"  password:             {password}\n"
        f"  data directory:       {settings.data_dir}\n"
        f"  network provider:     {ProviderSettings().network_url()}/v2.0 (Keystone "
        f"{ProviderSettings().identity_url()}/v3, user admin, {provider_password})\n"
        f"  host agent:           http://{settings.local_host}/jsonrpc (runtime {HostSettings().runtime}), "
        "added as host 'local' of cluster Default\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def cmd_engine(args: argparse.Namespace) -> int:
    if getattr(args, "engine_command", None) == "user":
        return cmd_user_add(args)
    if getattr(args, "engine_command", None) == "reconcile":
        from extnet.engine.lifecycle.command import run_reconcile

        return run_reconcile(_engine_settings(args))
    return _serve(_engine_settings(args), banner=False)


def cmd_user_add(args: argparse.Namespace) -> int:
    from extnet.engine.auth import add_user
    from extnet.engine.store.db import Database, migrate

    settings = _engine_settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url()
    migrate(url)
    password = args.password or os.environ.get("EXTNET_USER_PASSWORD")
    generated = False
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password for {args.name}: ")
        else:
            password, generated = generate_password(), True
    db = Database(url)
    try:
        add_user(db, args.name, password, read_only=args.read_only)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    kind = "read-only user" if args.read_only else "user"
    print(f"Added {kind} {args.name}" + (f" with the generated password: {password}" if generated else ""))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    settings = _engine_settings(args)
    provider = _start_provider(settings.data_dir / "provider")
    # the local host agent, paired by the engine as host "local" of the Default cluster with a password made now
    host_listen, host_password = HostSettings().listen, generate_password()
    host_agent = _start_host_agent(settings.data_dir / "host", host_listen, host_password)
    settings = settings.model_copy(update={"local_host": host_listen, "local_host_password": host_password})
    try:
        return _serve(settings, banner=True)
    finally:
        for child in (host_agent, provider):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _start_host_agent(data_dir: Path, listen: str, password: str) -> subprocess.Popen[bytes]:
    """``extnet host`` beside the engine (``EXTNET_HOST_*`` settings apply); it dies with this process."""
    env = {**os.environ, "EXTNET_HOST_PAIRING_PASSWORD": password}
    return subprocess.Popen([sys.executable, "-m", "extnet", "host", "--listen", listen, "--data-dir", str(data_dir)],
                            env=env, preexec_fn=_die_with_parent)  # fmt: skip


def _start_provider(data_dir: Path) -> subprocess.Popen[bytes]:
    """The built-in network provider beside the engine (``EXTNET_PROVIDER_*`` settings apply). It dies with this
    process: uvicorn ends the engine by re-raising SIGTERM, so no ``finally`` would run to stop it."""
    return subprocess.Popen([sys.executable, "-m", "extnet", "provider", "--data-dir", str(data_dir)],
                            preexec_fn=_die_with_parent)  # fmt: skip


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _provider_settings(args: argparse.Namespace) -> ProviderSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "keystone_listen", "data_dir", "database_url", "backend", "auth", "log_level", "tls_cert",
                 "tls_key"):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return ProviderSettings(**overrides)


def cmd_provider(args: argparse.Namespace) -> int:
    from extnet.provider.app import build_provider, serve

    settings = _provider_settings(args)
    provider = build_provider(settings)
    if provider.generated_admin_password:
        print("Generated the password of the provider's user admin (project admin, domain Default; shown once): "
              f"{provider.generated_admin_password}", flush=True)  # fmt: skip
    print(f"extnet provider: networking API {settings.network_url()}/v2.0, identity API "
          f"{settings.identity_url()}/v3 (auth {settings.auth})", flush=True)  # fmt: skip
    serve(provider)
    return 0


def _add_provider_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", help="HOST:PORT of the networking API (default 127.0.0.1:9696)")
    parser.add_argument("--keystone-listen", help="HOST:PORT of the identity API (default 127.0.0.1:35357)")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet/provider)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file in the data dir)")
    parser.add_argument("--backend", choices=["sql"], help="where resources live (default sql)")
    parser.add_argument("--auth", choices=["keystone", "none"], help="require Keystone tokens (default) or not")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate (chain): serve both APIs over HTTPS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")


def _host_settings(args: argparse.Namespace) -> HostSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "data_dir", "runtime", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return HostSettings(**overrides)


def cmd_host(args: argparse.Namespace) -> int:
    from extnet.host.app import build_host_agent, serve
    from extnet.host.runtime.base import RuntimeUnavailable

    try:
        server = build_host_agent(_host_settings(args))
    except (RuntimeUnavailable, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = server.settings
    if server.generated_password:
        print("Generated the pairing password of this host agent (shown once; give it as the host's root_password "
              f"when adding the host to the engine): {server.generated_password}", flush=True)  # fmt: skip
    print(f"extnet host agent: JSON-RPC on http://{settings.listen}/jsonrpc, runtime {settings.runtime}, "
          f"data directory {settings.data_dir}", flush=True)  # fmt: skip
    serve(server)
    return 0


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", type=listen_address, help="HOST:PORT to serve on (default 127.0.0.1:54321)")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet/host)")
    parser.add_argument("--runtime", choices=["noop", "netns", "libvirt"],
                        help="how vNICs are plugged (default noop: records requests, plugs nothing)")  # fmt: skip
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="extnet", description="extnet: virtualization manager with "
                                     "external network providers")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    engine = sub.add_parser("engine", help="serve the engine (oVirt REST API v4)")
    _add_engine_options(engine)
    engine.set_defaults(func=cmd_engine)
    engine_sub = engine.add_subparsers(dest="engine_command")
    user = engine_sub.add_parser("user", help="manage engine users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_add = user_sub.add_parser("add", help="add a user NAME@internal")
    user_add.add_argument("name")
    user_add.add_argument("--read-only", action="store_true", help="may read everything and change nothing")
    user_add.add_argument("--password", help="the password (else EXTNET_USER_PASSWORD, a prompt, or generated)")
    _add_engine_options(user_add)
    reconcile = engine_sub.add_parser("reconcile", help="make the providers' ports match the vNICs again (orphan "
                                      "ports removed, missing ones made, cut-short operations undone)")  # fmt: skip
    _add_engine_options(reconcile)

    provider = sub.add_parser("provider", help="serve the built-in network provider (Neutron API v2.0 + Keystone)")
    _add_provider_options(provider)
    provider.set_defaults(func=cmd_provider)

    host = sub.add_parser("host", help="serve the host agent (JSON-RPC; plugs vNICs, heartbeats to providers)")
    _add_host_options(host)
    host.set_defaults(func=cmd_host)

    up = sub.add_parser("up", help="start everything on the embedded defaults")
    up.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet)")
    up.add_argument("--listen", type=listen_address, help="HOST:PORT of the engine (default 127.0.0.1:8080)")
    up.set_defaults(func=cmd_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C before the server took over the signal (e.g. during migrations)
        return 130


if __name__ == "__main__":
    sys.exit(main())
