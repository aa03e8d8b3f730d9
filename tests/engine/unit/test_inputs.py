"""Typed command inputs (``commands/inputs.py``) built from coerced bodies by the declared mappers
(``api/inputs.to_input``): every input names only fields its mapper declares, a field the body does not give (or
gives as JSON null) is None, and nested values become typed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from extnet.engine.api import root  # noqa: F401 - registers every resource's type, as the engine does
from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Mapper
from extnet.engine.api.resources.datacenters import DATA_CENTER
from extnet.engine.api.resources.macpools import MAC_POOL
from extnet.engine.api.resources.networks import NETWORK
from extnet.engine.api.resources.providers import PROVIDER
from extnet.engine.api.resources.vnicprofiles import VNIC_PROFILE
from extnet.engine.api.schema import TYPES, coerce
from extnet.engine.commands.datacenters import DataCenterInput, Version
from extnet.engine.commands.inputs import Property, Ref, wire
from extnet.engine.commands.macpools import MacPoolInput, MacRange
from extnet.engine.commands.networks import NetworkInput, Vlan
from extnet.engine.commands.providers import ProviderInput
from extnet.engine.commands.vnicprofiles import VnicProfileInput

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

INPUTS: list[tuple[Mapper, type[Any]]] = [
    (DATA_CENTER, DataCenterInput),
    (MAC_POOL, MacPoolInput),
    (NETWORK, NetworkInput),
    (VNIC_PROFILE, VnicProfileInput),
    (PROVIDER, ProviderInput),
]


def given(mapper: Mapper, cls: type[Any], body: dict[str, Any]) -> Any:
    return to_input(mapper, coerce(mapper.type_name, body), cls)


@pytest.mark.parametrize(("mapper", "cls"), INPUTS, ids=[cls.__name__ for _, cls in INPUTS])
def test_an_empty_body_gives_nothing(mapper: Mapper, cls: type[Any]) -> None:
    assert to_input(mapper, {}, cls) == cls()


def test_null_is_not_given_and_false_is_given() -> None:
    assert given(DATA_CENTER, DataCenterInput, {"name": None, "local": "false"}) == DataCenterInput(local=False)


def test_references_and_nested_values_are_typed() -> None:
    dc = given(DATA_CENTER, DataCenterInput, {"version": {"major": "4", "minor": "7"}, "mac_pool": {"name": "p"}})
    assert dc == DataCenterInput(version=Version(4, 7), mac_pool=Ref(name="p"))
    assert given(DATA_CENTER, DataCenterInput, {"version": "", "mac_pool": {}}) == DataCenterInput()


def test_lists_keep_whether_they_were_given() -> None:
    pool = given(MAC_POOL, MacPoolInput, {"ranges": {"range": [{"from": "00:1a:4a:00:00:00", "to": ""}]}})
    assert pool.ranges == (MacRange("00:1a:4a:00:00:00", ""),)
    assert given(MAC_POOL, MacPoolInput, {"ranges": ""}).ranges == ()
    assert given(MAC_POOL, MacPoolInput, {}).ranges is None


def test_a_field_whose_presence_matters_keeps_an_empty_reference() -> None:
    network = given(NETWORK, NetworkInput, {"cluster": "", "vlan": "", "data_center": ""})
    assert network.cluster == Ref(empty=True)
    assert network.cluster.wire() == {}
    assert network.vlan == Vlan(None)
    assert network.data_center is None
    profile = given(VNIC_PROFILE, VnicProfileInput, {"network_filter": {"href": "/x"}, "pass_through": {}})
    assert profile.network_filter == Ref()  # not empty: it must name its filter by id
    assert profile.pass_through_mode is None


def test_python_names_differ_from_wire_names() -> None:
    provider = given(PROVIDER, ProviderInput, {"type": "NEUTRON", "properties": {"property": [{"name": "a"}]}})
    assert provider.provider_type == "neutron"
    assert provider.properties == (Property("a", ""),)
    network = given(NETWORK, NetworkInput, {"external_provider_physical_network": {"name": "physnet"}})
    assert network.physical_network == Ref(name="physnet")


def test_an_input_field_the_mapper_does_not_declare_is_refused() -> None:
    @dataclass(frozen=True)
    class Wrong:
        colour: str | None = wire()

    assert "colour" not in TYPES[DATA_CENTER.type_name].fields
    with pytest.raises(AssertionError, match="colour"):
        to_input(DATA_CENTER, {}, Wrong)
