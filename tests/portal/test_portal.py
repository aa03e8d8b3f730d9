"""The administration portal, as an administrator uses it, in a real browser (see conftest.py): log in, add a
provider and see its connection state, import networks, manage subnets, run a VM on an imported network and see
its port ACTIVE, see it in the topology, remove a network from its provider. The tests of this module run in order
on one ``extnet up``; each checks what the provider itself then says, over its own API."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.engine.test_provider_tls import make_ca, make_server, run_tls_provider, write_tls_files
from tests.polling import until
from tests.portal.conftest import PROVIDER_PASSWORD, Stack, check_accessibility, new_context, screenshot
from tests.provider.process import ADMIN_PASSWORD as TLS_PROVIDER_PASSWORD
from tests.servers import run_host_agent

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

NETWORKS = ("portal-red", "portal-blue")
VM = "portal-vm"
SECOND_HOST = "portal-second"


def main_tab(page: Any, name: str) -> Any:
    return page.get_by_role("tablist", name="Main tabs").get_by_role("tab", name=name, exact=True)


def open_tab(page: Any, name: str) -> None:
    main_tab(page, name).click()
    expect(main_tab(page, name)).to_have_attribute("aria-selected", "true")


def open_sub_tab(page: Any, name: str) -> None:
    page.get_by_role("tablist", name="Details").get_by_role("tab", name=name, exact=True).click()


def row(page: Any, text: str) -> Any:
    return page.locator("#main-panel tbody tr").filter(has=page.get_by_role("cell", name=text, exact=True))


def provider_networks(stack: Stack) -> dict[str, str]:
    with stack.neutron() as neutron:
        return {n["name"]: n["id"] for n in neutron.get("networks").json()["networks"]}


def test_login_refuses_a_wrong_password_with_the_engines_reason(playwright_browser: Any, stack: Stack) -> None:
    context = new_context(playwright_browser)
    page = context.new_page()
    page.goto(stack.portal)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Login failed")
    check_accessibility(page, "login")
    screenshot(page, "login")
    context.close()


def test_adding_a_provider_shows_red_with_the_reason_then_green(page: Any, stack: Stack) -> None:
    open_tab(page, "Providers")
    page.get_by_role("button", name="Add", exact=True).click()
    dialog = page.get_by_role("dialog", name="Add provider")
    page.keyboard.press("Escape")  # the dialog is usable from the keyboard: Escape cancels
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Add", exact=True).click()
    dialog.get_by_label("Name", exact=True).fill("physnet")
    dialog.get_by_label("Provider URL").fill(stack.provider_url)
    dialog.get_by_label("User name").fill("admin")
    dialog.get_by_label("Password").fill("wrong-password")
    dialog.get_by_label("Authentication URL").fill(f"{stack.keystone_url}/v3")
    dialog.get_by_label("Project name").fill("admin")
    dialog.get_by_label("User domain name").fill("Default")
    dialog.get_by_label("Project domain name").fill("Default")
    dialog.get_by_label("Password").press("Enter")  # Enter submits: save and test
    failed = dialog.locator(".indicator.bad")
    expect(failed).to_contain_text("Connection failed")
    expect(failed.locator(".reason")).not_to_be_empty()
    check_accessibility(page, "provider dialog")
    screenshot(page, "provider-test-failed")
    dialog.get_by_label("Password").fill(PROVIDER_PASSWORD)
    dialog.get_by_role("button", name="Save and test").click()
    expect(dialog.locator(".indicator.good")).to_contain_text("Connection succeeded")
    screenshot(page, "provider-test-succeeded")
    dialog.get_by_role("button", name="Close").click()
    expect(row(page, "physnet").locator(".indicator.good")).to_be_visible()
    with stack.api() as api:
        added = [p for p in api.get("openstacknetworkproviders").json()["openstack_network_provider"]
                 if p["name"] == "physnet"]  # fmt: skip
        assert len(added) == 1 and added[0]["url"] == stack.provider_url and "password" not in added[0]


def test_an_untrusted_certificate_is_offered_for_import(page: Any, tmp_path: Path) -> None:
    ca = make_ca("portal test CA")
    server = make_server(ca, "provider", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    with run_tls_provider(tmp_path / "tls", write_tls_files(tmp_path, server, ca), None) as tls:
        open_tab(page, "Providers")
        page.get_by_role("button", name="Add", exact=True).click()
        dialog = page.get_by_role("dialog", name="Add provider")
        dialog.get_by_label("Name", exact=True).fill("tls-provider")
        dialog.get_by_label("Provider URL").fill(tls.network_url)
        dialog.get_by_label("User name").fill("admin")
        dialog.get_by_label("Password").fill(TLS_PROVIDER_PASSWORD)
        dialog.get_by_label("Authentication URL").fill(tls.auth_url)
        dialog.get_by_label("Project name").fill("admin")
        dialog.get_by_role("button", name="Save and test").click()
        expect(dialog.locator(".indicator.bad .reason")).to_contain_text("certificate")
        offer = dialog.locator(".certificates")
        expect(offer).to_contain_text("portal test CA")
        screenshot(page, "provider-certificate-offer")
        offer.get_by_role("button", name="Import the certificates").click()
        expect(dialog.locator(".indicator.good")).to_contain_text("Connection succeeded")
        dialog.get_by_role("button", name="Close").click()
        row(page, "tls-provider").click()
        page.get_by_role("button", name="Remove", exact=True).click()
        page.get_by_role("dialog", name="Remove provider tls-provider").get_by_role("button", name="Remove").click()
        expect(row(page, "tls-provider")).to_have_count(0)


def test_importing_two_networks_into_a_data_center(page: Any, stack: Stack) -> None:
    with stack.neutron() as neutron:
        for name in NETWORKS:
            neutron.post("networks", json={"network": {"name": name}}).raise_for_status()
    open_tab(page, "Providers")
    row(page, "physnet").click()
    open_sub_tab(page, "Networks")
    for name in NETWORKS:
        page.get_by_role("checkbox", name=f"Choose network {name}").check()
    page.get_by_role("button", name="Import", exact=True).click()
    dialog = page.get_by_role("dialog", name="Import networks")
    for name in NETWORKS:
        expect(dialog.get_by_label(f"Data center for network {name}")).to_have_value(re.compile(".+"))
    dialog.get_by_role("button", name="Import", exact=True).click()
    expect(dialog.get_by_role("status")).to_have_text("All 2 imported")
    screenshot(page, "import-networks")
    dialog.get_by_role("button", name="Close").click()
    with stack.api() as api:
        imported = {n["name"]: n for n in api.get("networks").json()["network"] if n["name"] in NETWORKS}
    assert set(imported) == set(NETWORKS)
    assert {n["external_provider"]["id"] for n in imported.values()} == {_provider_id(stack, "physnet")}


def test_synchronizing_a_provider_runs_as_a_job_with_its_progress(page: Any, stack: Stack) -> None:
    open_tab(page, "Providers")
    row(page, "physnet").click()
    page.get_by_role("button", name="Synchronize").click()
    expect(page.locator("#notices")).to_contain_text("Provider 'physnet' synchronized", timeout=60_000)
    with stack.api() as api:
        jobs = api.get("jobs").json().get("job", [])
    synced = [job for job in jobs if "sync" in job["description"] and "physnet" in job["description"]]
    assert [job["status"] for job in synced] == ["finished"]


def test_the_provider_column_links_to_the_provider(page: Any, stack: Stack) -> None:
    open_tab(page, "Networks")
    link = row(page, NETWORKS[0]).get_by_role("link", name="physnet")
    expect(link).to_be_visible()
    link.click()
    expect(main_tab(page, "Providers")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#main-panel tr.selected")).to_contain_text("physnet")


def test_adding_and_removing_a_subnet(page: Any, stack: Stack) -> None:
    open_tab(page, "Networks")
    row(page, NETWORKS[0]).click()
    open_sub_tab(page, "Subnets")
    page.get_by_role("button", name="New subnet").click()
    dialog = page.get_by_role("dialog", name=f"New subnet on {NETWORKS[0]}")
    dialog.get_by_label("Subnet name").fill("red-v4")
    dialog.get_by_label("CIDR").fill("10.77.0.0/24")
    dialog.get_by_label("Gateway").fill("10.77.0.1")
    dialog.get_by_label("DNS servers").fill("10.77.0.2")
    dialog.get_by_role("button", name="Create").click()
    subnet_row = page.locator("#sub-panel tr").filter(has_text="10.77.0.0/24")
    expect(subnet_row).to_contain_text("10.77.0.1")
    screenshot(page, "network-subnets")
    network_id = provider_networks(stack)[NETWORKS[0]]
    with stack.neutron() as neutron:
        subnets = neutron.get("subnets", params={"network_id": network_id}).json()["subnets"]
    assert [(s["name"], s["cidr"], s["gateway_ip"], s["dns_nameservers"]) for s in subnets] == [
        ("red-v4", "10.77.0.0/24", "10.77.0.1", ["10.77.0.2"])]
    subnet_row.get_by_role("button", name="Remove subnet red-v4").click()
    page.get_by_role("dialog", name="Remove subnet red-v4").get_by_role("button", name="Remove").click()
    expect(subnet_row).to_have_count(0)
    with stack.neutron() as neutron:
        assert neutron.get("subnets", params={"network_id": network_id}).json()["subnets"] == []
    with stack.api() as api:  # the event names the network, not its id
        removed = api.get("events", params={"search": "type = 1102"}).json()["event"]
    assert [e["description"] for e in removed] == [
        f"Subnet red-v4 (10.77.0.0/24) was removed from network {NETWORKS[0]} on provider physnet."]
    # a subnet for the VM of the next test to take its address from
    page.get_by_role("button", name="New subnet").click()
    dialog.get_by_label("Subnet name").fill("red-vms")
    dialog.get_by_label("CIDR").fill("10.78.0.0/24")
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("#sub-panel tr").filter(has_text="10.78.0.0/24")).to_be_visible()


def test_a_vm_on_an_imported_network_gets_an_active_bound_port(page: Any, stack: Stack) -> None:
    open_tab(page, "Virtual Machines")
    page.get_by_role("button", name="New", exact=True).click()
    dialog = page.get_by_role("dialog", name="New virtual machine")
    dialog.get_by_label("Name", exact=True).fill(VM)
    profile = dialog.get_by_label("vNIC profile of nic1")
    profile.select_option(label=_option(profile, f"{NETWORKS[0]} / {NETWORKS[0]}"))
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("#main-panel tr.selected")).to_contain_text(VM)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(row(page, VM)).to_contain_text("up", timeout=60_000)
    open_sub_tab(page, "Network Interfaces")
    nic = page.locator("#sub-panel tr[data-nic=nic1]")
    expect(nic).to_contain_text("ACTIVE", timeout=60_000)
    expect(nic).to_contain_text("local")
    expect(nic).to_contain_text("10.78.0.")
    screenshot(page, "vm-network-interfaces")
    with stack.api() as api:
        vm_id = api.get("vms", params={"search": f"name={VM}"}).json()["vm"][0]["id"]
        nic_id = api.get(f"vms/{vm_id}/nics").json()["nic"][0]["id"]
        agent = api.get("hosts").json()["host"][0]["host_agent"]
    with stack.neutron() as neutron:  # a vNIC's port has the vNIC's id as its device_id
        ports = neutron.get("ports", params={"device_id": nic_id}).json()["ports"]
    assert [(p["status"], p["binding:host_id"]) for p in ports] == [("ACTIVE", agent["unique_id"])]
    expect(nic).to_contain_text(ports[0]["id"])
    expect(nic).to_contain_text(ports[0]["fixed_ips"][0]["ip_address"])


def test_unplugging_plugging_and_changing_the_profile_of_a_running_vms_vnic(page: Any, stack: Stack) -> None:
    open_tab(page, "Virtual Machines")
    row(page, VM).click()
    open_sub_tab(page, "Network Interfaces")
    nic = page.locator("#sub-panel tr[data-nic=nic1]")
    nic.get_by_role("button", name="Unplug").click()
    expect(nic).to_contain_text("unplugged")
    nic.get_by_role("button", name="Plug", exact=True).click()
    expect(nic.get_by_role("cell", name="plugged", exact=True)).to_be_visible()
    nic.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name=f"Edit interface nic1 of {VM}")
    profile = dialog.get_by_label("vNIC profile")
    profile.select_option(label=_option(profile, f"{NETWORKS[1]} / {NETWORKS[1]}"))
    dialog.get_by_role("button", name="Save").click()
    expect(nic.get_by_role("link", name=NETWORKS[1])).to_be_visible()
    expect(nic).to_contain_text("ACTIVE", timeout=60_000)
    with stack.neutron() as neutron:
        blue = neutron.get("ports", params={"network_id": provider_networks(stack)[NETWORKS[1]]}).json()["ports"]
    assert [p["status"] for p in blue if p["device_owner"] == "oVirt"] == ["ACTIVE"]
    nic.get_by_role("button", name="Edit").click()  # back on red, as the topology test expects
    profile.select_option(label=_option(profile, f"{NETWORKS[0]} / {NETWORKS[0]}"))
    dialog.get_by_role("button", name="Save").click()
    expect(nic.get_by_role("link", name=NETWORKS[0])).to_be_visible()
    expect(nic).to_contain_text("ACTIVE", timeout=60_000)


def test_picking_a_profiles_security_groups_from_the_provider(page: Any, stack: Stack) -> None:
    with stack.neutron() as neutron:
        group = neutron.post("security-groups", json={"security_group": {"name": "portal-web"}}).json()
    group_id = group["security_group"]["id"]
    open_tab(page, "vNIC Profiles")
    row(page, NETWORKS[0]).first.click()
    page.get_by_role("button", name="Edit", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Edit vNIC profile {NETWORKS[0]}")
    dialog.get_by_role("checkbox", name="portal-web").check()
    check_accessibility(page, "vNIC profile dialog")
    dialog.get_by_role("button", name="Save").click()
    expect(row(page, NETWORKS[0]).first).to_contain_text(group_id)
    with stack.api() as api:
        profiles = api.get("vnicprofiles").json()["vnic_profile"]
    chosen = next(p for p in profiles if p["name"] == NETWORKS[0])
    assert chosen["custom_properties"]["custom_property"] == [{"name": "SecurityGroups", "value": group_id}]


def test_an_external_networks_fixed_fields_are_greyed_with_the_reason(page: Any) -> None:
    open_tab(page, "Networks")
    row(page, NETWORKS[0]).click()
    page.get_by_role("button", name="Edit", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Edit network {NETWORKS[0]}")
    vlan = dialog.get_by_label("VLAN tag")
    expect(vlan).to_be_disabled()
    reason = f"The VLAN of external network '{NETWORKS[0]}' comes from provider 'physnet'"
    expect(vlan).to_have_attribute("title", reason)
    expect(dialog.get_by_label("VM network")).to_be_disabled()
    expect(dialog.get_by_label("Name", exact=True)).to_be_enabled()
    page.keyboard.press("Escape")


def test_the_tree_limits_the_tabs_to_a_provider(page: Any) -> None:
    page.locator("[role=tree] .node", has_text="physnet").click()
    open_tab(page, "Networks")
    expect(page.get_by_text("Showing only provider 'physnet'")).to_be_visible()
    expect(row(page, NETWORKS[0])).to_have_count(1)
    expect(row(page, "ovirtmgmt")).to_have_count(0)
    page.get_by_role("button", name="Show all").click()
    expect(row(page, "ovirtmgmt")).to_have_count(1)


def test_the_search_box_speaks_the_engines_search_language(page: Any) -> None:
    open_tab(page, "Networks")
    page.get_by_label("Search", exact=True).fill(f"name = {NETWORKS[0][:-1]}*")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#main-panel tbody tr[tabindex]")).to_have_count(1)
    expect(row(page, NETWORKS[0])).to_have_count(1)
    page.get_by_label("Search", exact=True).fill("colour = red")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#main-panel .fault")).to_contain_text("colour")  # the engine's fault, as it is


def test_new_events_appear_without_a_reload(page: Any, stack: Stack) -> None:
    open_tab(page, "Events")
    marker = f"portal marker {stack.base}"
    expect(page.locator("#main-panel")).not_to_contain_text(marker)
    with stack.api() as api:
        api.post("events", json={"description": marker, "severity": "warning", "origin": "portal-test",
                                 "custom_id": 1}).raise_for_status()  # fmt: skip
    expect(page.locator("#main-panel tbody tr").first).to_contain_text(marker, timeout=15_000)


def test_the_topology_shows_the_vm_and_a_router_on_their_network(page: Any, stack: Stack) -> None:
    with stack.neutron() as neutron:
        subnet = neutron.get("subnets", params={"cidr": "10.78.0.0/24"}).json()["subnets"][0]
        router = neutron.post("routers", json={"router": {"name": "portal-router"}}).json()["router"]
        neutron.put(f"routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}).raise_for_status()
    page.locator("[role=tree] .node", has_text="Default").first.click()
    open_tab(page, "Topology")
    picture = page.locator("svg.topology")
    expect(picture.locator(f'a[aria-label="VM {VM}: up"]')).to_be_visible(timeout=60_000)
    expect(picture.locator(f'a[aria-label^="network {NETWORKS[0]} (10.78.0.0/24"]')).to_be_visible()
    expect(picture.locator('a[aria-label^="router portal-router:"]')).to_be_visible()
    connection = page.locator(".topology-table tr").filter(has_text=VM)
    expect(connection).to_contain_text(NETWORKS[0])
    expect(connection).to_contain_text("ACTIVE")
    expect(page.locator(".topology-table tr").filter(has_text="portal-router")).to_contain_text(NETWORKS[0])
    check_accessibility(page, "topology")
    screenshot(page, "topology")
    picture.locator(f'a[aria-label="VM {VM}: up"]').click()
    expect(main_tab(page, "Virtual Machines")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#main-panel tr.selected")).to_contain_text(VM)


def test_removing_a_network_with_delete_from_provider(page: Any, stack: Stack) -> None:
    open_tab(page, "Networks")
    row(page, NETWORKS[1]).click()
    page.get_by_role("button", name="Remove", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Remove network {NETWORKS[1]}")
    dialog.get_by_label("Delete from external provider").check()
    check_accessibility(page, "remove network dialog")
    dialog.get_by_role("button", name="Remove").click()
    expect(row(page, NETWORKS[1])).to_have_count(0)
    until(lambda: NETWORKS[1] not in provider_networks(stack), what="the network gone from the provider")
    assert NETWORKS[0] in provider_networks(stack)


def test_creating_a_network_on_the_provider_with_a_first_subnet(page: Any, stack: Stack) -> None:
    open_tab(page, "Networks")
    page.get_by_role("button", name="New external").click()
    dialog = page.get_by_role("dialog", name="New external network")
    dialog.get_by_label("Name", exact=True).fill("portal-green")
    dialog.get_by_label("Provider").select_option(label="physnet")
    dialog.get_by_label("Create a first subnet").check()
    dialog.get_by_label("Subnet name").fill("green-v4")
    dialog.get_by_label("CIDR").fill("10.79.0.0/24")
    dialog.get_by_role("button", name="Create").click()
    expect(row(page, "portal-green")).to_contain_text("physnet")
    network_id = until(lambda: provider_networks(stack).get("portal-green"), what="the network on the provider")
    with stack.neutron() as neutron:
        subnets = neutron.get("subnets", params={"network_id": network_id}).json()["subnets"]
    assert [(s["name"], s["cidr"]) for s in subnets] == [("green-v4", "10.79.0.0/24")]


@pytest.mark.parametrize("width", [1920, 1280])
def test_every_main_screen_is_accessible_and_fits(page: Any, stack: Stack, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.locator("[role=tree] .node", has_text="System").first.click()
    for tab in ("Data Centers", "Clusters", "Hosts", "Networks", "vNIC Profiles", "Virtual Machines", "Providers",
                "Events", "Topology"):  # fmt: skip
        open_tab(page, tab)
        page.wait_for_function("() => !document.querySelector('[aria-busy=true]')")
        rows = page.locator("#main-panel tbody tr[tabindex]")
        if tab != "Topology" and rows.count():
            rows.first.click()
        check_accessibility(page, f"{tab} at {width} px")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{tab} is {overflow} px wider than a {width} px screen"
        if width == 1920:
            screenshot(page, "tab-" + tab.lower().replace(" ", "-"))


def test_migrating_a_running_vm_to_a_second_host_and_back(page: Any, stack: Stack, tmp_path: Path) -> None:
    with run_host_agent(tmp_path / "second") as agent, stack.api() as api:
        cluster = {"name": "Default"}
        added = api.post("hosts", json={"name": SECOND_HOST, "cluster": cluster, **agent.host_fields()})
        assert added.status_code in (200, 201), added.text
        second = added.json()
        until(lambda: api.get(f"hosts/{second['id']}").json()["status"] == "up", f"host {SECOND_HOST} up")
        open_tab(page, "Virtual Machines")
        row(page, VM).click()
        page.get_by_role("button", name="Migrate").click()
        dialog = page.get_by_role("dialog", name=f"Migrate VM {VM}")
        dialog.get_by_label("Destination host").select_option(label=SECOND_HOST)
        dialog.get_by_role("button", name="Migrate").click()
        expect(row(page, VM)).to_contain_text(SECOND_HOST, timeout=60_000)
        open_sub_tab(page, "Network Interfaces")
        nic = page.locator("#sub-panel tr[data-nic=nic1]")
        expect(nic).to_contain_text(SECOND_HOST)
        expect(nic).to_contain_text("ACTIVE", timeout=60_000)
        assert _vm_port(stack)["binding:host_id"] == api.get(f"hosts/{second['id']}").json()["host_agent"]["unique_id"]

        page.get_by_role("button", name="Migrate").click()  # back, to the host the engine chooses: the only other
        page.get_by_role("dialog", name=f"Migrate VM {VM}").get_by_role("button", name="Migrate").click()
        expect(row(page, VM)).to_contain_text("local", timeout=60_000)
        expect(nic).to_contain_text("local")
        local = next(h for h in api.get("hosts").json()["host"] if h["name"] == "local")
        until(lambda: _vm_port(stack)["binding:host_id"] == local["host_agent"]["unique_id"], "the port back on local")
        assert api.post(f"hosts/{second['id']}/deactivate", json={}).status_code == 200
        until(lambda: api.get(f"hosts/{second['id']}").json()["status"] == "maintenance", "maintenance")
        assert api.delete(f"hosts/{second['id']}").status_code == 200


def _vm_port(stack: Stack) -> dict[str, Any]:
    with stack.api() as api:
        vm_id = api.get("vms", params={"search": f"name={VM}"}).json()["vm"][0]["id"]
        nic_id = api.get(f"vms/{vm_id}/nics").json()["nic"][0]["id"]
    with stack.neutron() as neutron:
        port: dict[str, Any] = neutron.get("ports", params={"device_id": nic_id}).json()["ports"][0]
    return port


def test_stopping_and_removing_a_vm(page: Any, stack: Stack) -> None:
    open_tab(page, "Virtual Machines")
    row(page, VM).click()
    page.get_by_role("button", name="Power off").click()
    expect(row(page, VM)).to_contain_text("down", timeout=60_000)
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name=f"Remove VM {VM}").get_by_role("button", name="Remove").click()
    expect(row(page, VM)).to_have_count(0)
    with stack.api() as api:
        assert api.get("vms", params={"search": f"name={VM}"}).json().get("vm", []) == []
    with stack.neutron() as neutron:  # its port went with it
        ports = neutron.get("ports", params={"network_id": provider_networks(stack)[NETWORKS[0]]}).json()["ports"]
    assert [p for p in ports if p["device_owner"] == "oVirt"] == []


def _provider_id(stack: Stack, name: str) -> str:
    with stack.api() as api:
        return next(p["id"] for p in api.get("openstacknetworkproviders").json()["openstack_network_provider"]
                    if p["name"] == name)  # fmt: skip


def _option(select: Any, starts: str) -> str:
    select.locator("option", has_text=starts).first.wait_for(state="attached")  # the dialog may still be opening
    labels: list[str] = select.locator("option").all_text_contents()
    return next(label for label in labels if label.startswith(starts))
