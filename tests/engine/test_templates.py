"""The read-only Blank template, as the SDK and Ansible's ovirt_vm look it up."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

BLANK = "00000000-0000-0000-0000-000000000000"


def test_blank_template(connection: sdk.Connection, system: sdk.services.SystemService) -> None:
    templates = system.templates_service()
    assert [tpl.name for tpl in templates.list()] == ["Blank"]
    blank = templates.template_service(BLANK).get()
    assert (blank.id, blank.name, blank.status) == (BLANK, "Blank", t.TemplateStatus.OK)
    assert blank.version.version_number == 1 and blank.version.base_template.id == BLANK
    assert blank.href == f"/ovirt-engine/api/templates/{BLANK}"
    assert blank.creation_time is not None and blank.memory > 0
    assert connection.system_service().get().special_objects.blank_template.id == BLANK


def test_search_as_ovirt_vm_does(system: sdk.services.SystemService, unique: Callable[[str], str]) -> None:
    templates = system.templates_service()
    assert [tpl.id for tpl in templates.list(search="name=Blank and datacenter=Default")] == [BLANK]
    assert [tpl.id for tpl in templates.list(search='name="Blank"')] == [BLANK]
    assert templates.list(search="name=Fedora") == []
    assert templates.list(search="name=Blank and datacenter=no-such-dc") == []
    vm = system.vms_service().add(t.Vm(name=unique("tvm"), cluster=t.Cluster(name="Default")))
    assert [tpl.id for tpl in templates.list(search=f"vm.name={vm.name}")] == [BLANK]
    assert templates.list(search="vm.name=no-such-vm") == []
    system.vms_service().vm_service(vm.id).remove()
    with pytest.raises(sdk.Error) as err:
        templates.list(search="size=1")
    assert err.value.code == 400 and "Unknown search field 'size'" in str(err.value)


def test_unknown_and_read_only(system: sdk.services.SystemService, rest: httpx.Client) -> None:
    with pytest.raises(sdk.NotFoundError):
        system.templates_service().template_service("6c6d3e2a-0000-4000-8000-000000000000").get()
    assert rest.post("templates", json={"name": "mine"}).status_code == 405
    assert rest.delete(f"templates/{BLANK}").status_code == 405
    assert rest.put(f"templates/{BLANK}", json={"description": "x"}).status_code == 405


def test_json(rest: httpx.Client) -> None:
    listed = rest.get("templates", params={"search": "name=Blank"})
    assert listed.status_code == 200
    assert [tpl["id"] for tpl in listed.json()["template"]] == [BLANK]
    assert rest.get(f"templates/{BLANK}").json()["version"]["version_number"] == "1"
