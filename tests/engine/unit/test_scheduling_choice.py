"""Which host a VM runs on (``operations/scheduling.py``, ``domain/pending.py``, ``domain/scheduling.py``), without a
host, a provider or a database: hosts that bind the provider's plugin type, then those where the provider lists an
alive agent; the first of the remaining wins, the order being the least loaded first (starts in flight counted),
ties by name. Providers answer ``list_agents`` from a table (``builders.AgentTable``).

Not covered here: ``candidates`` and ``hosts_not_up`` read the database (the up hosts of a cluster and their VM
counts); ``candidate`` reads a stored host row. The suites under tests/engine and tests/e2e drive those."""

from __future__ import annotations

import pytest

from extnet.engine.domain.pending import PendingStarts
from extnet.engine.domain.scheduling import (
    DEFAULT_SCHEDULING_POLICY,
    POLICY_PROPERTIES,
    property_problem,
    scheduling_policy,
)
from extnet.engine.operations.scheduling import (
    AgentCache,
    Candidate,
    Need,
    NoHost,
    Scope,
    choose,
    load_key,
    plugin_type_of,
    reporting_providers,
)
from extnet.engine.store.models import Provider
from tests.engine.unit.builders import AgentTable, host, plan, provider_ref, services

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml
CLUSTER = Scope("up host of cluster 'c1'")


def ovs_host(name: str, vms: int = 0) -> Candidate:
    return host(name, vms, binding_host_ids={"open_vswitch": f"bind-{name}"})


def red(provider_id: str = "prov-1", plugin_type: str = "open_vswitch") -> list[Need]:
    """The need of network ``red`` of ``provider_id``."""
    return [plan(provider=provider_ref(provider_id, plugin_type), network_name="red").need()]


# --- plugin types --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "served_as"), [(None, "open_vswitch"), ("", "open_vswitch"), (" OVN ", "ovn"),
                                                   ("linuxbridge", "linuxbridge")])  # fmt: skip
def test_a_provider_is_served_for_its_plugin_type(stored: str | None, served_as: str) -> None:
    assert plugin_type_of(Provider(name="p", provider_type="external", plugin_type=stored)) == served_as


# --- hosts that can serve a network --------------------------------------------------------------------------------


def test_without_external_networks_the_first_host_wins() -> None:
    hosts = [host("b"), host("a")]
    choice = choose(services(), hosts, [], "vm1", CLUSTER)
    assert choice.host is hosts[0] and choice.reporting == frozenset()


def test_a_host_without_a_binding_for_the_plugin_type_is_passed_over() -> None:
    hosts = [host("a", binding_host_ids={"ovn": "chassis-a"}), ovs_host("b"), ovs_host("c")]
    choice = choose(services(prov_1=AgentTable(None)), hosts, red(), "vm1", CLUSTER)
    assert choice.host.name == "b" and choice.reporting == frozenset()  # the provider lists no agents


def test_a_plugin_type_listed_without_an_id_binds_by_host_name() -> None:
    hosts = [host("a"), host("b", plugin_types=("open_vswitch",))]
    table = AgentTable(["b"])
    choice = choose(services(prov_1=table), hosts, red(), "vm1", CLUSTER)
    assert choice.host.name == "b" and table.asked == [["b"]]


def test_no_host_with_a_binding_names_the_network_and_plugin_type() -> None:
    hosts = [ovs_host("a"), ovs_host("b")]
    with pytest.raises(NoHost) as refused:
        choose(services(prov_9=AgentTable(None)), hosts, red("prov-9", "ovn"), "vm1", CLUSTER)
    assert str(refused.value) == ("External network 'red' of VM 'vm1' cannot be served: no up host of cluster 'c1' "
                                  "reports a binding for plugin type 'ovn' of provider 'prov-9-name'")  # fmt: skip


def test_every_provider_must_be_served_on_the_same_host() -> None:
    both = host("c", binding_host_ids={"open_vswitch": "bind-c", "ovn": "chassis-c"})
    hosts = [ovs_host("a"), host("b", binding_host_ids={"ovn": "chassis-b"}), both]
    needs = red("prov-1") + red("prov-2", "ovn")
    choice = choose(services(prov_1=AgentTable(None), prov_2=AgentTable(None)), hosts, needs, "vm1", CLUSTER)
    assert choice.host is both


# --- alive agents --------------------------------------------------------------------------------------------------


def test_a_provider_listing_agents_narrows_to_hosts_with_an_alive_one() -> None:
    table = AgentTable(alive=["bind-c"], down=["bind-a"])
    hosts = [ovs_host("a"), ovs_host("b"), ovs_host("c")]
    choice = choose(services(prov_1=table), hosts, red(), "vm1", CLUSTER)
    assert choice.host.name == "c" and choice.reporting == frozenset({"prov-1"})
    assert table.asked == [["bind-a", "bind-b", "bind-c"]]  # once, for all the hosts' binding host ids


def test_an_agent_administratively_down_does_not_count() -> None:
    table = AgentTable(alive=["bind-b"], disabled=["bind-a"])
    choice = choose(services(prov_1=table), [ovs_host("a"), ovs_host("b")], red(), "vm1", CLUSTER)
    assert choice.host.name == "b"


def test_no_alive_agent_on_any_host_names_the_binding_host_ids() -> None:
    hosts = [ovs_host("b"), ovs_host("a")]
    with pytest.raises(NoHost) as refused:
        choose(services(prov_1=AgentTable(alive=["elsewhere"], down=["bind-a"])), hosts, red(), "vm1", CLUSTER)
    assert str(refused.value) == ("External network 'red' of VM 'vm1' cannot be served: provider 'prov-1-name' has "
                                  "no alive agent on any up host of cluster 'c1' (binding host ids 'bind-a', "
                                  "'bind-b')")  # fmt: skip


def test_only_providers_with_an_alive_agent_there_report() -> None:
    hosts = [host("a", binding_host_ids={"open_vswitch": "bind-a", "ovn": "chassis-a"})]
    needs = red("prov-1") + red("prov-2", "ovn")
    choice = choose(services(prov_1=AgentTable(["bind-a"]), prov_2=AgentTable(None)), hosts, needs, "vm1", CLUSTER)
    assert choice.reporting == frozenset({"prov-1"})


def test_reporting_providers_on_a_host_that_cannot_serve_are_none() -> None:
    tables = services(prov_1=AgentTable(["bind-a"]))
    assert reporting_providers(tables, ovs_host("a"), red(), "vm1") == frozenset({"prov-1"})
    assert reporting_providers(tables, host("b"), red(), "vm1") == frozenset()  # no binding
    assert reporting_providers(services(prov_1=AgentTable(["bind-z"])), ovs_host("a"), red(), "vm1") == frozenset()


def test_one_host_scope_speaks_of_that_host() -> None:
    one = Scope("host 'h1'", single=True)
    with pytest.raises(NoHost) as refused:
        choose(services(), [host("h1")], red(), "vm1", one)
    assert "host 'h1' reports no binding for plugin type 'open_vswitch'" in str(refused.value)
    assert (one.on(), CLUSTER.on()) == ("host 'h1'", "any up host of cluster 'c1'")


def test_the_agent_cache_keeps_only_good_news() -> None:
    table = AgentTable(alive=["bind-a"])
    cache, config = AgentCache(ttl=60), provider_ref().config
    tables = services(prov_1=table)
    assert cache.alive(tables, config, ["bind-a", "bind-b"], "list") == {"bind-a"}
    assert cache.alive(tables, config, ["bind-a", "bind-b"], "list") == {"bind-a"}
    assert table.asked == [["bind-a", "bind-b"], ["bind-b"]]  # the host without an alive agent is asked about again
    assert cache.alive(tables, config, ["bind-a"], "list") == {"bind-a"} and len(table.asked) == 2


def test_the_agent_cache_remembers_a_provider_that_lists_no_agents() -> None:
    table = AgentTable(alive=None)
    cache, config = AgentCache(ttl=60), provider_ref().config
    assert cache.alive(services(prov_1=table), config, ["bind-a"], "list") is None
    assert cache.alive(services(prov_1=table), config, ["bind-b"], "list") is None and len(table.asked) == 1
    uncached = AgentCache(ttl=0)
    for _ in range(2):
        assert uncached.alive(services(prov_1=table), config, ["bind-a"], "list") is None
    assert len(table.asked) == 3


# --- the order: least loaded first, starts in flight counted, ties by name -----------------------------------------


def test_load_key_is_id_vms_name() -> None:
    assert load_key(host("a", vms=3)) == ("id-a", 3, "a")


def test_the_least_loaded_host_comes_first_ties_by_name() -> None:
    pending = PendingStarts()
    hosts = [host("c", vms=1), host("b", vms=2), host("a", vms=1)]
    with pending.starting(hosts, load_key) as start:
        assert [h.name for h in start.order] == ["a", "c", "b"]
        assert start.held == "id-a" and pending.count("id-a") == 1
    assert pending.count("id-a") == 0  # the start ended


def test_starts_in_flight_spread_over_the_hosts() -> None:
    pending = PendingStarts()
    hosts = [host("a"), host("b")]
    with pending.starting(hosts, load_key) as first, pending.starting(hosts, load_key) as second:
        assert (first.order[0].name, second.order[0].name) == ("a", "b")
        with pending.starting(hosts, load_key) as third:
            assert third.order[0].name == "a"  # a tie again (one each): by name


def test_a_start_counts_on_the_host_it_chose() -> None:
    pending = PendingStarts()
    hosts = [host("a"), host("b")]
    with pending.starting(hosts, load_key) as start:
        start.hold("id-b")  # the choice passed over "a" (no binding, no alive agent)
        assert (pending.count("id-a"), pending.count("id-b")) == (0, 1)
        with pending.starting(hosts, load_key) as other:
            assert other.order[0].name == "a"
    assert (pending.count("id-a"), pending.count("id-b")) == (0, 0)


def test_no_host_holds_nothing() -> None:
    pending, hosts = PendingStarts(), list[Candidate]()
    with pending.starting(hosts, load_key) as start:
        assert start.order == [] and start.held is None


# --- the built-in scheduling policies ------------------------------------------------------------------------------


def test_policies_are_found_by_id_whatever_its_case_and_by_exact_name() -> None:
    policy = scheduling_policy(" B4ED2332-A7AC-4D5F-9596-99A439CB2812 ", "id")
    assert policy is DEFAULT_SCHEDULING_POLICY and policy.name == "none"
    found = scheduling_policy("evenly_distributed", "name")
    assert found is not None and found.id == "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a"
    assert scheduling_policy("Evenly_Distributed", "name") is None
    assert scheduling_policy("00000000-0000-0000-0000-000000000000", "id") is None


@pytest.mark.parametrize(("name", "value"), [("HighUtilization", "80"), ("LowUtilization", "0"),
                                             ("VCpuToPhysicalCpuRatio", "2.5"), ("ScaleDown", "100")])  # fmt: skip
def test_valid_policy_properties(name: str, value: str) -> None:
    assert property_problem(name, value) is None


@pytest.mark.parametrize(("name", "value"), [("HighUtilization", "800"), ("HighUtilization", "40"),
                                             ("MigrationThreshold", "1"), ("ScaleDown", "101"),
                                             ("EnableAutomaticHostPowerManagement", "yes")])  # fmt: skip
def test_invalid_policy_property_values(name: str, value: str) -> None:
    assert property_problem(name, value) == f"Invalid value '{value}' for scheduling policy property '{name}'"


def test_an_unknown_policy_property_lists_the_known_ones() -> None:
    problem = property_problem("Bogus", "1")
    assert problem == f"Unknown scheduling policy property 'Bogus'; known: {', '.join(sorted(POLICY_PROPERTIES))}"
