"""The ``extnet`` command: ``engine``, ``up`` and their helpers."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from extnet.common.security import generate_password
from extnet.engine.serve import serve_engine
from extnet.engine.settings import EngineSettings
from extnet.host.settings import HostSettings
from extnet.provider.settings import ProviderSettings


def _engine_settings(args: argparse.Namespace) -> EngineSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "data_dir", "database_url", "tls_cert", "tls_key", "log_level", "builtin_provider",
                 "standby"):
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


def positive_int(value: str) -> int:
    """argparse type of a count of at least 1."""
    if not value.isdecimal() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of at least 1")
    return int(value)


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a nested parser must not overwrite what the outer one parsed with its own None defaults
    opt: dict[str, Any] = {"default": argparse.SUPPRESS}
    parser.add_argument("--listen", type=listen_address, help="HOST:PORT to serve on (default 127.0.0.1:8080)", **opt)
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet)", **opt)
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file in the data dir)", **opt)
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS", **opt)
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert", **opt)
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], **opt)
    parser.add_argument("--builtin-provider", metavar="URL", help="the built-in provider's Networking API: registered "
                        "at the first start as extnet-builtin, the external network provider of cluster Default (its "
                        "admin password from EXTNET_BUILTIN_PROVIDER_PASSWORD, EXTNET_PROVIDER_ADMIN_PASSWORD or "
                        "EXTNET_ADMIN_PASSWORD)", **opt)  # fmt: skip


def cmd_engine(args: argparse.Namespace) -> int:
    if getattr(args, "engine_command", None) == "user":
        return cmd_user_add(args)
    if getattr(args, "engine_command", None) == "reconcile":
        from extnet.engine.operations.command import run_reconcile

        return run_reconcile(_engine_settings(args))
    return serve_engine(_engine_settings(args))


def cmd_user_add(args: argparse.Namespace) -> int:
    from extnet.common.files import private_database, private_directory
    from extnet.engine.auth import add_user
    from extnet.engine.store.db import Database, migrate

    settings = _engine_settings(args)
    private_directory(settings.data_dir)
    url = settings.effective_database_url()
    migrate(url)
    private_database(url)
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
    from extnet.cli_up import run_up

    return run_up(_engine_settings(args), verbose=args.verbose)


def _provider_settings(args: argparse.Namespace) -> ProviderSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "keystone_listen", "data_dir", "database_url", "backend", "auth", "log_level", "tls_cert",
                 "tls_key", "driver", "ovn_nb", "ovn_sb", "workers"):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return ProviderSettings(**overrides)


def cmd_provider(args: argparse.Namespace) -> int:
    from extnet.common.ovn_sb import OvnUnavailable
    from extnet.provider.app import build_provider, serve

    settings = _provider_settings(args)
    if settings.workers > 1:
        return _provider_workers(settings)
    try:
        provider = build_provider(settings)
    except OvnUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if provider.generated_admin_password:
        print("Generated the password of the provider's user admin (project admin, domain Default; shown once): "
              f"{provider.generated_admin_password}", flush=True)  # fmt: skip
    print(f"extnet provider: networking API {settings.network_url()}/v2.0, identity API "
          f"{settings.identity_url()}/v3 (auth {settings.auth})", flush=True)  # fmt: skip
    serve(provider)
    return 0


def _provider_workers(settings: ProviderSettings) -> int:
    from extnet.provider.app import prepare
    from extnet.provider.workers import serve_workers, workers_problem

    problem = workers_problem(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    generated = prepare(settings).generated_password
    if generated:
        print("Generated the password of the provider's user admin (project admin, domain Default; shown once): "
              f"{generated}", flush=True)  # fmt: skip
    print(f"extnet provider: networking API {settings.network_url()}/v2.0, identity API "
          f"{settings.identity_url()}/v3 (auth {settings.auth}), {settings.workers} workers", flush=True)  # fmt: skip
    if not serve_workers(settings):
        print("error: a worker could not start (see its log above)", file=sys.stderr)
        return 1
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
    parser.add_argument("--driver", choices=["ovs_agent", "ovn"], help="the mechanism driver: ovs_agent (default; "
                        "hosts' agents report by heartbeat) or ovn (OVN carries the networks)")  # fmt: skip
    parser.add_argument("--ovn-nb", help="driver ovn: the OVN Northbound database (default tcp:127.0.0.1:6641)")
    parser.add_argument("--ovn-sb", help="driver ovn: the OVN Southbound database (default tcp:127.0.0.1:6642)")
    parser.add_argument("--workers", type=positive_int, help="processes serving the APIs on one PostgreSQL database "
                        "(default 1; EXTNET_PROVIDER_WORKERS)")  # fmt: skip


def cmd_sync_ovn(args: argparse.Namespace) -> int:
    from extnet.provider.drivers.ovn.sync import sync_ovn

    return sync_ovn(_provider_settings(args), repair=args.repair)


def _host_settings(args: argparse.Namespace) -> HostSettings:
    overrides: dict[str, Any] = {}
    for name in ("listen", "data_dir", "runtime", "log_level", "ovsdb", "l2", "tunnel_ip", "binding_host", "netns",
                 "guest_ip", "ovs_hybrid_plug", "libvirt_uri", "guest_kernel", "guest_initrd"):  # fmt: skip
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
    print(f"extnet host agent: JSON-RPC on https://{settings.listen}/jsonrpc, runtime {settings.runtime}, "
          f"data directory {settings.data_dir}; its certificate's SHA-256 fingerprint (the engine pins it when it "
          f"pairs): {server.certificate.fingerprint_text}", flush=True)  # fmt: skip
    serve(server)
    return 0


def cmd_host_setup(args: argparse.Namespace) -> int:
    from extnet.common.ovn_sb import OvnUnavailable
    from extnet.host import setup
    from extnet.host.privileged.ovsdb import DEFAULT_OVSDB, Ovs, OvsUnavailable

    try:
        ovs = Ovs(args.ovsdb or DEFAULT_OVSDB)
    except OvsUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.setup_kind == "ovn":
            outcome = setup.setup_ovn(ovs, args.central, args.encap_ip, args.system_id, args.hostname,
                                      bridge=args.bridge, datapath_type=args.datapath_type,
                                      wait_s=args.wait)  # fmt: skip
        else:
            outcome = setup.setup_neutron_ovs_agent(ovs, args.config_dir, args.transport_url, args.bridge_mappings,
                                                    args.local_ip, args.datapath_type)  # fmt: skip
    except (ValueError, OvnUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        ovs.close()
    for line in outcome.lines():
        print(line, flush=True)
    return 1 if outcome.problem else 0


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", type=listen_address, help="HOST:PORT to serve on (default 127.0.0.1:54321)")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet/host)")
    parser.add_argument("--runtime", choices=["noop", "netns", "libvirt"],
                        help="how VMs run and vNICs are plugged (default noop: records requests, plugs nothing; "
                        "netns: VMs as network namespaces; libvirt: real guests)")  # fmt: skip
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--ovsdb", help="the host's Open vSwitch database, as ovs-vsctl's --db (default "
                        "unix:/run/openvswitch/db.sock)")  # fmt: skip
    parser.add_argument(
        "--l2",
        choices=["builtin", "none"],
        help="builtin (default): this agent isolates networks "
        "and tunnels them between hosts; none: OVN or a Neutron agent does, this one only plugs",
    )
    parser.add_argument("--tunnel-ip", help="this host's address for VXLAN tunnels to the other hosts")
    parser.add_argument("--binding-host", help="the binding host id for Open vSwitch and Linux bridge (default: the "
                        "host name)")  # fmt: skip
    parser.add_argument(
        "--ovs-hybrid-plug",
        action="store_const",
        const=True,
        help="ask the providers for the "
        "hybrid plug (qbr/qvb/qvo), as the iptables firewall of Neutron's OVS agent does",
    )
    parser.add_argument("--netns", help="the network namespace of this host's devices (several test-bed hosts on "
                        "one machine)")  # fmt: skip
    parser.add_argument("--libvirt-uri", help="libvirt runtime: the libvirtd to drive (default qemu:///system)")
    parser.add_argument("--guest-kernel", help="libvirt runtime: the kernel its guests boot")
    parser.add_argument("--guest-initrd", help="libvirt runtime: the initramfs its guests boot")
    parser.add_argument("--guest-ip", choices=["static", "dhcp"], help="netns and libvirt runtimes: guests take "
                        "the ports' fixed IPs (static, default) or ask DHCP")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="extnet", description="extnet: virtualization manager with "
                                     "external network providers")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    engine = sub.add_parser("engine", help="serve the engine (oVirt REST API v4)")
    _add_engine_options(engine)
    engine.add_argument("--standby", action="store_true", default=argparse.SUPPRESS, help="when another engine runs "
                        "on the database, wait and take over once it is gone (default: refuse to start)")  # fmt: skip
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
    provider_sub = provider.add_subparsers(dest="provider_command")
    sync = provider_sub.add_parser("sync-ovn", help="compare OVN Northbound with the API: report every difference "
                                   "(--repair: and fix them)")  # fmt: skip
    sync.add_argument("--repair", action="store_true", help="make OVN Northbound match the API")
    _add_provider_options(sync)
    sync.set_defaults(func=cmd_sync_ovn)

    host = sub.add_parser("host", help="serve the host agent (JSON-RPC; plugs vNICs, heartbeats to providers)")
    _add_host_options(host)
    host.set_defaults(func=cmd_host)
    host_sub = host.add_subparsers(dest="host_command")
    setup = host_sub.add_parser("setup", help="configure this host for a network provider's data plane")
    setup_sub = setup.add_subparsers(dest="setup_kind", required=True)
    ovn = setup_sub.add_parser("ovn", help="point this host's Open vSwitch at an OVN central and check that "
                               "ovn-controller registered the chassis")  # fmt: skip
    ovn.add_argument("--central", required=True, help="the OVN Southbound database, e.g. tcp:IP:6642")
    ovn.add_argument("--encap-ip", required=True, help="this host's address for geneve tunnels")
    ovn.add_argument("--system-id", help="the chassis name (default: the current system-id, else the host name)")
    ovn.add_argument("--hostname", help="the chassis' host name, the binding host id of its ports (default: the "
                     "host name)")  # fmt: skip
    ovn.add_argument("--bridge", default="br-int", help="the integration bridge (default br-int)")
    ovn.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the chassis (default 30)")
    agent = setup_sub.add_parser("neutron-ovs-agent", help="write a Neutron Open vSwitch agent's configuration and "
                                 "make its bridges")  # fmt: skip
    agent.add_argument("--transport-url", required=True, help="the message queue, e.g. rabbit://user:pass@IP:5672/")
    agent.add_argument("--bridge-mappings", required=True, help="PHYSNET:BRIDGE[,...]")
    agent.add_argument("--local-ip", help="this host's address for VXLAN tunnels (enables them)")
    agent.add_argument("--config-dir", type=Path, default=Path("/etc/neutron"), help="default /etc/neutron")
    for made in (ovn, agent):
        made.add_argument("--ovsdb", help="the Open vSwitch database (default unix:/run/openvswitch/db.sock)")
        made.add_argument("--datapath-type", choices=["auto", "system", "netdev"], default="auto")
        made.set_defaults(func=cmd_host_setup)

    up = sub.add_parser("up", help="start everything on the embedded defaults")
    up.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/extnet)")
    up.add_argument("--listen", type=listen_address, help="HOST:PORT of the engine (default 127.0.0.1:8080)")
    up.add_argument("--verbose", action="store_true", help="log everything, not only warnings and errors")
    up.set_defaults(func=cmd_up)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """extnet's own logs at the command's level (``up``: warnings unless ``--verbose``); the libraries' (alembic,
    uvicorn, keystoneauth...) at WARNING unless debugging, or ``up --verbose``, which logs everything from INFO up."""
    verbose_up = args.command == "up" and args.verbose
    if args.command == "up":
        level = "info" if args.verbose else "warning"
    else:
        level = getattr(args, "log_level", None) or "info"
    libraries = logging.DEBUG if level == "debug" else logging.INFO if verbose_up else logging.WARNING
    logging.basicConfig(level=libraries, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("extnet").setLevel(level.upper())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C before the server took over the signal (e.g. during migrations)
        return 130


if __name__ == "__main__":
    sys.exit(main())
