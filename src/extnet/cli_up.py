"""``extnet up``: the engine, the built-in network provider and a local host agent on the embedded defaults, with
one banner, printed first, that says everything a new user needs; then one line once everything is ready.

The provider's database and admin are made here, before the provider starts, so that ``up`` knows the admin's
password at the first start: the engine registers the provider with it (``engine.bootstrap``) and the banner shows
it once. Library logs stay at WARNING unless ``--verbose``; what is logged while ``up`` prepares (alembic's
migrations) comes after the banner.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from extnet.common.security import generate_password
from extnet.engine.settings import EngineSettings
from extnet.host import ovs_daemons
from extnet.host.ovs_daemons import OvsDaemons
from extnet.host.settings import DEFAULT_OVSDB, HostSettings
from extnet.provider.settings import ProviderSettings

LABEL_WIDTH = 28


@dataclass(frozen=True)
class Secret:
    """A password as the banner shows it: the value at the first start only, else where it comes from."""

    value: str | None
    origin: str

    def shown(self) -> str:
        return f"{self.value}  ({self.origin})" if self.value else f"({self.origin})"


def run_up(settings: EngineSettings, verbose: bool) -> int:
    from extnet.engine.serve import serve_engine

    level = "info" if verbose else "warning"
    provider_settings = ProviderSettings(data_dir=settings.data_dir / "provider", log_level=level)
    with logs_after_the_banner():
        provider_password, provider_secret = _prepare_provider(provider_settings)
        choice = choose_runtime(settings.data_dir)
        host_settings = HostSettings(runtime=choice.runtime, ovsdb=choice.ovsdb)  # type: ignore[arg-type]
        settings = settings.model_copy(update={
            "log_level": level, "local_host": host_settings.listen,
            "local_host_password": generate_password(),  # the local agent's pairing password: made anew each start
            "builtin_provider": provider_settings.network_url(),
            "builtin_provider_auth_url": provider_settings.identity_url() + "/v3",
            "builtin_provider_password": provider_password,
        })  # fmt: skip
        admin, registration = _prepare_engine(settings)
        print(_banner(settings, admin, registration, provider_settings, provider_secret, host_settings, choice.why,
                      verbose), flush=True)  # fmt: skip
    children = [
        _child(["provider", "--data-dir", str(provider_settings.data_dir)], level),
        _child(["host", "--listen", host_settings.listen, "--data-dir", str(settings.data_dir / "host")], level,
               {"EXTNET_HOST_PAIRING_PASSWORD": settings.local_host_password or "",
                "EXTNET_HOST_RUNTIME": choice.runtime, "EXTNET_HOST_OVSDB": choice.ovsdb}),
    ]  # fmt: skip
    try:
        return serve_engine(settings, on_ready=lambda message: print(f"\n{message}\n", flush=True))
    finally:
        for child in children:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if choice.daemons is not None:
            choice.daemons.stop()


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logs_after_the_banner() -> Iterator[None]:
    """What is logged (and warned) in the block goes out when it ends, after the banner it prints: the databases'
    migrations log (alembic) before ``up`` knows what the banner says, and the banner comes first."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    held = _Held()
    for handler in handlers:
        root.removeHandler(handler)
    root.addHandler(held)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(held)
        for handler in handlers:
            root.addHandler(handler)
        for record in held.records:
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)


@dataclass
class RuntimeChoice:
    runtime: str
    why: str
    ovsdb: str = DEFAULT_OVSDB
    daemons: OvsDaemons | None = None  # an Open vSwitch this command started (and stops)


def choose_runtime(data_dir: Path) -> RuntimeChoice:
    """The local host's runtime: the one EXTNET_HOST_RUNTIME names; else netns where VMs can really be plugged
    (root, Open vSwitch running or installed, which is then started under the data dir); else noop."""
    named = os.environ.get("EXTNET_HOST_RUNTIME")
    if named:
        return RuntimeChoice(named, "as EXTNET_HOST_RUNTIME says", os.environ.get("EXTNET_HOST_OVSDB", DEFAULT_OVSDB))
    if os.geteuid() != 0:
        return RuntimeChoice("noop", "noop: plugging vNICs for real needs root (run as root for the netns runtime)")
    if Path(DEFAULT_OVSDB.removeprefix("unix:")).exists():
        return RuntimeChoice("netns", f"netns: VMs as network namespaces on the Open vSwitch at {DEFAULT_OVSDB}")
    if not ovs_daemons.installed():
        return RuntimeChoice("noop", "noop: Open vSwitch is not installed (apt-get install openvswitch-switch, "
                             "then run as root for the netns runtime)")  # fmt: skip
    daemons = OvsDaemons(data_dir / "ovs")
    daemons.start(preexec=_die_with_parent)  # killed with up, even by SIGKILL
    return RuntimeChoice("netns", f"netns: VMs as network namespaces on an Open vSwitch started under "
                         f"{daemons.base}", daemons.remote, daemons)  # fmt: skip


def _prepare_engine(settings: EngineSettings) -> tuple[Secret, str]:
    """Migrate the engine's database and make admin@internal at the first start: what the banner says of its
    password, and of the built-in provider."""
    from extnet.common.files import private_database, private_directory
    from extnet.engine.auth import ensure_admin
    from extnet.engine.bootstrap import registration
    from extnet.engine.store.db import Database, migrate

    private_directory(settings.data_dir)
    url = settings.effective_database_url()
    migrate(url)
    private_database(url)
    database = Database(url)
    try:
        generated = ensure_admin(database, settings.admin_password)
        return _admin_secret(settings.admin_password, generated), registration(
            database, settings.builtin_provider_password is not None
        )
    finally:
        database.dispose()


def _prepare_provider(settings: ProviderSettings) -> tuple[str | None, Secret]:
    """Migrate the provider's database and make its admin at the first start (with the password given in the
    environment, else one made now); the password the engine registers the provider with (None when this start
    cannot know it) and what the banner says of it."""
    from extnet.provider.app import prepare

    given = settings.admin_password
    password = given or generate_password()
    made = prepare(settings.model_copy(update={"admin_password": password})).created
    origin = _provider_password_origin()
    if made and not given:
        return password, Secret(password, "generated; shown only now, at the first start")
    if given:
        return given, Secret(None, f"the one in {origin}")
    return None, Secret(None, "printed at the first start; the engine keeps it for the provider")


def _provider_password_origin() -> str:
    if os.environ.get("EXTNET_PROVIDER_ADMIN_PASSWORD"):
        return "EXTNET_PROVIDER_ADMIN_PASSWORD"
    return "EXTNET_ADMIN_PASSWORD, as the engine's"


def _child(args: list[str], level: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``extnet ARGS`` beside the engine (its ``EXTNET_*`` settings apply), quiet but for warnings (the banner says
    what it would print); it dies with this process: uvicorn ends the engine by re-raising SIGTERM, so no
    ``finally`` would run to stop it."""
    command = [sys.executable, "-m", "extnet", *args, "--log-level", level]
    return subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)  # fmt: skip


def _die_with_parent() -> None:
    """In the child before it runs: it dies with this process, and a Ctrl-C at the terminal is this process's to
    handle (it stops the children), not the child's: a child still starting would die of it with a traceback. Its
    server takes SIGINT back once it serves."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _admin_secret(engine_password: str | None, generated: str | None) -> Secret:
    if generated:
        return Secret(generated, "generated; shown only now, at the first start")
    if engine_password:
        return Secret(None, "the one in EXTNET_ADMIN_PASSWORD")
    return Secret(None, "printed at the first start; set EXTNET_ADMIN_PASSWORD before the first start to choose it")


def _banner(settings: EngineSettings, admin: Secret, registration: str, provider: ProviderSettings,
            provider_secret: Secret, host: HostSettings, why: str, verbose: bool) -> str:  # fmt: skip
    base = f"{settings.scheme}://{settings.listen}/ovirt-engine"
    lines = [
        "",
        "extnet is starting: the engine, a network provider and a host agent.",
        "",
        _row("web portal", f"{base}/webadmin/"),
        _row("API (oVirt REST v4)", f"{base}/api"),
        _row("API description", f"{base}/api-docs/openapi.json"),
        _row("SSO token endpoint", f"{base}/sso/oauth/token"),
        _row("user", "admin@internal: log in with it to the web portal and the API (both need a login)"),
        _row("password", admin.shown()),
        "",
        _row("network provider", registration),
        _row("Networking API (Neutron)", f"{provider.network_url()}/v2.0"),
        _row("Identity API (Keystone)", f"{provider.identity_url()}/v3"),
        _row("provider user", "admin (project admin, domain Default)"),
        _row("provider password", provider_secret.shown()),
        "",
        _row("host", f"'local' of cluster Default, runtime {host.runtime} (agent https://{host.listen}/jsonrpc)"),
        _row("runtime", why),
        _row("data directory", str(Path(settings.data_dir))),
        _row("logs", "everything" if verbose else "warnings and errors only (extnet up --verbose for more)"),
        "",
        "Press Ctrl-C to stop everything. A line follows once everything is ready.",
    ]
    return "\n".join(lines)


def _row(label: str, value: str) -> str:
    return f"  {label + ':':<{LABEL_WIDTH}}{value}"
