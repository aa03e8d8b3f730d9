"""``async`` actions and ``/jobs``: an action that calls providers or hosts, asked for with ``async``, answers 202
with the action pending and its job; the job ends finished or failed (with the fault's detail); a missing target is
a 404 at once; jobs list newest first, in XML (ovirtsdk4) and JSON; an engine restarted while a job ran shows it
unknown; the runner; the migration matches the models."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from ovirtsdk4.reader import Reader
from sqlalchemy import create_engine, delete, select

from extnet.engine.app import build_engine
from extnet.engine.auth import add_user
from extnet.engine.jobs import ABANDONED, JobRunner, JobsStopped, clear_ended_jobs
from extnet.engine.settings import EngineSettings
from extnet.engine.store.db import MIGRATIONS, Database, migrate
from extnet.engine.store.models import Base, Job, utcnow
from tests.polling import until
from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess, run_engine, scratch_database

Unique = Callable[[str], str]
StartAgent = Callable[..., HostAgentProcess]
MISSING = "6c6d3e2a-0000-4000-8000-00000000f00d"


@pytest.fixture(autouse=True)
def no_tracebacks(engine: EngineProcess) -> Iterator[None]:
    start = len(engine.log())
    yield
    new = engine.log()[start:]
    assert "Traceback" not in new, new[-3000:]


@pytest.fixture
def cluster(system: sdk.services.SystemService, unique: Unique) -> Iterator[t.Cluster]:
    """A cluster of its own data center: no other test's host runs there."""
    dc = system.data_centers_service().add(t.DataCenter(name=unique("jdc")))
    made = system.clusters_service().add(
        t.Cluster(name=unique("jcl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    yield made
    system.data_centers_service().data_center_service(dc.id).remove(force=True)


@pytest.fixture
def xml(engine: EngineProcess, token: str) -> Iterator[httpx.Client]:
    """An HTTP client speaking XML to the API root, as the SDK does."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/xml", "Content-Type": "application/xml"}
    with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
        yield client


def add_host(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> t.Host:
    agent = host_agent()
    wanted = t.Host(name=unique("jhost"), address=agent.address, port=agent.port, root_password=agent.password,
                    cluster=t.Cluster(id=cluster.id))  # fmt: skip
    return system.hosts_service().add(wanted)


def add_vm(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster) -> t.Vm:
    return system.vms_service().add(t.Vm(name=unique("jvm"), cluster=t.Cluster(id=cluster.id)))


def ended(system: sdk.services.SystemService, job_id: str) -> t.Job:
    """The job once it is no longer started."""
    service = system.jobs_service().job_service(job_id)
    return until(lambda: (job := service.get()).status != t.JobStatus.STARTED and job, f"job {job_id} ended")


def job_by_correlation(system: sdk.services.SystemService, correlation_id: str) -> t.Job:
    found = system.jobs_service().list(search=f"correlation_id={correlation_id}")
    assert len(found) == 1, found
    return found[0]


# --- async actions -----------------------------------------------------------------------------------------------


def test_async_start_and_stop_run_as_jobs(system: sdk.services.SystemService, xml: httpx.Client, unique: Unique,
                                          cluster: t.Cluster, host_agent: StartAgent) -> None:  # fmt: skip
    host = add_host(system, unique, cluster, host_agent)
    vm = add_vm(system, unique, cluster)
    service = system.vms_service().vm_service(vm.id)

    # what the SDK sends for start(async_=True): <action><async>true</async></action>; answered 202 with the action
    # pending and its job, which the SDK reads as an Action (its start() itself returns nothing)
    response = xml.post(f"vms/{vm.id}/start", content=b"<action><async>true</async></action>")
    assert response.status_code == 202, response.text
    action = Reader.read(response.content)
    assert isinstance(action, t.Action) and action.status == "pending" and action.fault is None
    assert action.job.id and action.job.href == f"/ovirt-engine/api/jobs/{action.job.id}"

    job = ended(system, action.job.id)
    assert job.status == t.JobStatus.FINISHED and job.comment is None
    assert job.description == f"Executing action start on VM '{vm.name}'"
    assert job.end_time is not None and job.start_time <= job.end_time and job.last_updated == job.end_time
    assert job.auto_cleared is True and job.external is False
    running = service.get()
    assert running.status == t.VmStatus.UP and running.host.id == host.id

    # through the SDK itself, found again by the correlation id sent along
    correlation_id = uuid.uuid4().hex
    assert service.stop(async_=True, query={"correlation_id": correlation_id}) is None
    job = job_by_correlation(system, correlation_id)
    assert job.description == f"Executing action stop on VM '{vm.name}'"
    assert ended(system, job.id).status == t.JobStatus.FINISHED
    assert service.get().status == t.VmStatus.DOWN


def test_a_failing_async_action_ends_failed_with_the_fault_detail(
    system: sdk.services.SystemService, rest: httpx.Client, xml: httpx.Client, unique: Unique, cluster: t.Cluster
) -> None:
    vm = add_vm(system, unique, cluster)
    service = system.vms_service().vm_service(vm.id)
    correlation_id = uuid.uuid4().hex
    service.start(async_=True, query={"correlation_id": correlation_id})  # no host is up in the cluster
    job = ended(system, job_by_correlation(system, correlation_id).id)
    assert job.status == t.JobStatus.FAILED
    assert job.comment == (f"[Cannot run VM. There is no host in cluster '{cluster.name}' that is up to run VM "
                           f"'{vm.name}': the cluster has no host.]")  # fmt: skip
    assert service.get().status == t.VmStatus.DOWN

    # JSON, async in the body as a JSON boolean: the same answer and the same kind of job
    response = rest.post(f"vms/{vm.id}/stop", json={"async": True})
    assert response.status_code == 202, response.text
    pending = response.json()
    assert pending["status"] == "pending" and pending["job"]["href"] == f"/ovirt-engine/api/jobs/{pending['job']['id']}"
    failed = until(lambda: (j := rest.get(f"jobs/{pending['job']['id']}").json())["status"] != "started" and j, "ended")
    assert failed["status"] == "failed" and f"VM '{vm.name}' is not running" in failed["comment"]
    assert failed["description"] == f"Executing action stop on VM '{vm.name}'"

    # ?async=true in the query works too
    response = xml.post(f"vms/{vm.id}/shutdown", params={"async": "true"}, content=b"<action/>")
    assert response.status_code == 202 and b"<status>pending</status>" in response.content, response.text
    job_id = Reader.read(response.content).job.id
    assert ended(system, job_id).status == t.JobStatus.FAILED


def test_async_on_a_missing_target_is_a_404_at_once(system: sdk.services.SystemService, rest: httpx.Client,
                                                     unique: Unique, cluster: t.Cluster) -> None:  # fmt: skip
    correlation_id = uuid.uuid4().hex
    with pytest.raises(sdk.NotFoundError) as err:
        system.vms_service().vm_service(MISSING).start(async_=True, query={"correlation_id": correlation_id})
    assert f"VM '{MISSING}'" in str(err.value)
    assert system.jobs_service().list(search=f"correlation_id={correlation_id}") == []
    response = rest.post("vms/not-a-uuid/start", json={"async": True})
    assert response.status_code == 400, response.text
    # a vNIC of a VM: the vNIC must exist, and the job names both
    vm = add_vm(system, unique, cluster)
    response = rest.post(f"vms/{vm.id}/nics/{MISSING}/deactivate", json={"async": True})
    assert response.status_code == 404 and f"vNIC '{MISSING}' of VM '{vm.name}'" in response.json()["detail"]
    nic = system.vms_service().vm_service(vm.id).nics_service().add(t.Nic(name="nic1"))
    response = rest.post(f"vms/{vm.id}/nics/{nic.id}/deactivate", json={"async": True})
    assert response.status_code == 202, response.text
    job = ended(system, response.json()["job"]["id"])
    assert job.description == f"Executing action deactivate on vNIC 'nic1' of VM '{vm.name}'"
    assert job.status == t.JobStatus.FINISHED, job.comment
    assert system.vms_service().vm_service(vm.id).nics_service().nic_service(nic.id).get().plugged is False


def test_actions_that_do_not_call_out_run_at_once_even_with_async(rest: httpx.Client) -> None:
    dc = rest.get("datacenters", params={"search": "name=Default"}).json()["data_center"][0]
    response = rest.post(f"datacenters/{dc['id']}/cleanfinishedtasks", json={"async": True})
    assert response.status_code == 200 and response.json() == {"status": "complete"}, response.text


def test_a_bad_async_flag_or_correlation_id_is_a_400(rest: httpx.Client, system: sdk.services.SystemService,
                                                      unique: Unique, cluster: t.Cluster) -> None:  # fmt: skip
    vm = add_vm(system, unique, cluster)
    response = rest.post(f"vms/{vm.id}/stop", params={"async": "maybe"}, json={})
    assert response.status_code == 400 and "'async' must be true or false" in response.json()["detail"]
    response = rest.post(f"vms/{vm.id}/stop", params={"correlation_id": "a b"}, json={"async": True})
    assert response.status_code == 400 and "correlation id" in response.json()["detail"]
    assert system.jobs_service().list(search=f"description=*{vm.name}*") == []


# --- /jobs -------------------------------------------------------------------------------------------------------


def test_jobs_list_newest_first_search_and_faults(system: sdk.services.SystemService, rest: httpx.Client,
                                                   unique: Unique, cluster: t.Cluster) -> None:  # fmt: skip
    vm = add_vm(system, unique, cluster)
    service = system.vms_service().vm_service(vm.id)
    made = []
    for _ in range(3):
        correlation_id = uuid.uuid4().hex
        service.stop(async_=True, query={"correlation_id": correlation_id})
        made.append(ended(system, job_by_correlation(system, correlation_id).id).id)
    jobs = system.jobs_service()
    listed = [job.id for job in jobs.list()]
    assert [job_id for job_id in listed if job_id in made] == made[::-1]
    assert listed[: len(made)] == made[::-1]  # nothing newer came meanwhile
    mine = jobs.list(search=f"description=*'{vm.name}'* and status=failed")
    assert [job.id for job in mine] == made[::-1]
    assert jobs.list(search=f"description=*'{vm.name}'* and status=finished") == []
    oldest_first = jobs.list(search=f"description=*'{vm.name}'* sortby start_time asc")
    assert [job.id for job in oldest_first] == made
    assert [job.id for job in jobs.list(search=f"description=*'{vm.name}'*", max=1)] == made[-1:]
    assert all(job.owner.id and job.owner.user_name == "admin" for job in mine)

    response = rest.get("jobs", params={"search": "status=sleeping"})
    assert response.status_code == 400 and "Unknown job status 'sleeping'" in response.json()["detail"]
    response = rest.get(f"jobs/{MISSING}")
    assert response.status_code == 404 and response.json()["detail"] == f"Entity not found: job '{MISSING}'"
    assert rest.get("jobs/not-a-uuid").status_code == 400
    assert rest.post("jobs", json={"description": "x"}).status_code == 405
    assert rest.delete(f"jobs/{made[0]}").status_code == 405
    root = rest.get("").json()
    assert {"rel": "jobs", "href": "/ovirt-engine/api/jobs"} in root["link"]


def test_a_job_in_json_and_xml(system: sdk.services.SystemService, rest: httpx.Client, xml: httpx.Client,
                               unique: Unique, cluster: t.Cluster) -> None:  # fmt: skip
    vm = add_vm(system, unique, cluster)
    job_id = rest.post(f"vms/{vm.id}/stop", json={"async": "true"}).json()["job"]["id"]
    job = ended(system, job_id)
    got = rest.get(f"jobs/{job_id}").json()
    assert got["id"] == job_id and got["href"] == f"/ovirt-engine/api/jobs/{job_id}"
    assert (got["status"], got["auto_cleared"], got["external"]) == ("failed", "true", "false")
    assert got["owner"] == {"id": job.owner.id, "user_name": "admin", "domain": "internal",
                            "principal": "admin@internal"}  # fmt: skip
    assert {"start_time", "end_time", "last_updated", "description", "comment"} <= set(got)
    assert [j["id"] for j in rest.get("jobs", params={"search": f"id={job_id}"}).json()["job"]] == [job_id]
    body = xml.get(f"jobs/{job_id}").text
    assert f'<job id="{job_id}" href="/ovirt-engine/api/jobs/{job_id}">' in body and "<status>failed</status>" in body
    assert f'<owner id="{job.owner.id}">' in body
    assert job.start_time.tzinfo is not None and abs((job.start_time - utcnow()).total_seconds()) < 300


def test_a_read_only_user_reads_jobs_and_cannot_start_any(engine: EngineProcess, store: Database,
                                                          system: sdk.services.SystemService, unique: Unique,
                                                          cluster: t.Cluster) -> None:  # fmt: skip
    vm = add_vm(system, unique, cluster)
    job_id = ended(system, _stop_async(system, vm.id)).id
    name = f"{unique('viewer')}@internal"
    add_user(store, name, "viewpw", read_only=True)
    conn = sdk.Connection(url=engine.url, username=name, password="viewpw")
    try:
        viewer = conn.system_service()
        assert viewer.jobs_service().job_service(job_id).get().status == t.JobStatus.FAILED
        assert job_id in [job.id for job in viewer.jobs_service().list()]
        with pytest.raises(sdk.AuthError) as err:
            viewer.vms_service().vm_service(vm.id).stop(async_=True)
        assert err.value.code == 403
    finally:
        conn.close()


def _stop_async(system: sdk.services.SystemService, vm_id: str) -> str:
    correlation_id = uuid.uuid4().hex
    system.vms_service().vm_service(vm_id).stop(async_=True, query={"correlation_id": correlation_id})
    return str(job_by_correlation(system, correlation_id).id)


def test_ended_jobs_are_cleared_after_a_while(store: Database) -> None:
    now = utcnow()
    ages = {"finished": 11, "failed": 11, "unknown": 61}  # minutes since they ended
    with store.transaction() as session:
        rows = [Job(description="old", status=status, start_time=now - timedelta(minutes=age + 1),
                    end_time=now - timedelta(minutes=age), action="stop", target_path="vms", target_id=MISSING)
                for status, age in ages.items()]  # fmt: skip
        kept = Job(description="old, kept", status="finished", end_time=now - timedelta(minutes=11), auto_cleared=False,
                   action="stop", target_path="vms", target_id=MISSING)  # fmt: skip
        session.add_all([*rows, kept])
    assert clear_ended_jobs(store) >= 2
    with store.transaction(write=False) as session:
        left = session.scalars(select(Job.status).where(Job.id.in_([row.id for row in [*rows, kept]]))).all()
    assert sorted(left) == ["failed", "finished"]  # failed jobs stay an hour; auto_cleared=false ones stay
    with store.transaction() as session:
        session.execute(delete(Job).where(Job.id.in_([row.id for row in [*rows, kept]])))


# --- engine restarts, the runner, the schema ---------------------------------------------------------------------


def test_jobs_of_an_engine_that_stopped_become_unknown(tmp_path: Path) -> None:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        url = url or f"sqlite:///{tmp_path / 'engine.sqlite'}"
        migrate(url)
        db = Database(url)
        try:
            with db.transaction() as session:
                running = Job(description="Executing action start on VM 'gone'", status="started", action="start",
                              target_path="vms", target_id=MISSING)  # fmt: skip
                done = Job(description="Executing action stop on VM 'gone'", status="finished", end_time=utcnow(),
                           action="stop", target_path="vms", target_id=MISSING)  # fmt: skip
                session.add_all([running, done])
            with run_engine(tmp_path, url) as engine:
                conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD)
                try:
                    jobs = conn.system_service().jobs_service()
                    job = jobs.job_service(running.id).get()
                    assert job.status == t.JobStatus.UNKNOWN and job.comment == ABANDONED
                    assert job.end_time is not None
                    assert jobs.job_service(done.id).get().status == t.JobStatus.FINISHED
                finally:
                    conn.close()
                assert "1 job(s) of an engine that stopped while they ran are now unknown" in engine.log()
        finally:
            db.dispose()


def test_a_stopped_engine_takes_no_new_jobs(tmp_path: Path) -> None:
    """Once the runner is stopped (the engine is stopping), an async action is a 503 and leaves no job behind."""
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        settings = EngineSettings(data_dir=tmp_path, database_url=url, admin_password=ADMIN_PASSWORD,
                                  host_monitor_interval=0, provider_sync_interval=0)  # fmt: skip
        built = build_engine(settings)

        async def scenario() -> None:
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=built.app), headers=headers,
                                         base_url="http://engine/ovirt-engine/api/",
                                         auth=("admin@internal", ADMIN_PASSWORD)) as client:  # fmt: skip
                vm = await client.post("vms", json={"name": "stopping", "cluster": {"name": "Default"}})
                assert vm.status_code == 201, vm.text
                assert built.jobs.stop(0)
                response = await client.post(f"vms/{vm.json()['id']}/start", json={"async": True})
                assert response.status_code == 503, response.text
                assert response.json()["reason"] == "Service Unavailable" and "stopping" in response.json()["detail"]
                # without async the action runs as before (and refuses to stop a VM that is down)
                assert (await client.post(f"vms/{vm.json()['id']}/stop", json={})).status_code == 409

        try:
            asyncio.run(scenario())  # the app without its lifespan: no background workers
            with built.db.transaction(write=False) as session:
                assert session.scalars(select(Job)).all() == []
        finally:
            built.db.dispose()


def test_the_runner_bounds_its_workers_and_cancels_what_has_not_begun() -> None:
    runner = JobRunner(workers=2)
    release = threading.Event()
    ran: list[int] = []
    cancelled: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> Callable[[], None]:
        def run() -> None:
            with lock:
                ran.append(n)
            release.wait(10)

        return run

    def cancel(n: int) -> Callable[[], None]:
        return lambda: cancelled.append(n)

    for n in range(5):
        runner.submit(work(n), cancel(n))
    until(lambda: len(ran) == 2, "two jobs running")
    assert sorted(ran) == [0, 1] and len(runner._threads) == 2
    assert runner.stop(0.05) is False  # two still run; the three that had not begun are cancelled
    assert cancelled == [2, 3, 4]
    with pytest.raises(JobsStopped):
        runner.submit(work(9))
    release.set()
    until(lambda: all(not thread.is_alive() for thread in runner._threads), "the workers ended")
    assert sorted(ran) == [0, 1]


def test_the_migrations_match_the_models(tmp_path: Path) -> None:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        url = url or f"sqlite:///{tmp_path / 'engine.sqlite'}"
        migrate(url)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        command.downgrade(cfg, "0003")  # the jobs migration goes down and up again
        migrate(url)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()
