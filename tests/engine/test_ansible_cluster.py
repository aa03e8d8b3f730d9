"""The unmodified ``ovirt.ovirt.ovirt_cluster`` module drives a cluster's whole life: create with its settings,
an idempotent re-run, an update, and removal. What the module did is checked through the SDK as well."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.engine.ansible_helpers import changed, requires_ansible, run_playbook
from tests.servers import ADMIN_PASSWORD, EngineProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

Names = Callable[[str], str]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    auth: {url: "{{ url }}", username: admin@internal, password: "{{ password }}", insecure: true}
  tasks:
    - ovirt.ovirt.ovirt_cluster: &create
        auth: "{{ auth }}"
        name: "{{ name }}"
        data_center: "{{ dc }}"
        description: Built by Ansible
        comment: ansible
        cpu_arch: x86_64
        cpu_type: Intel Nehalem Family
        compatibility_version: "4.7"
        switch_type: legacy
        firewall_type: firewalld
        scheduling_policy: evenly_distributed
        scheduling_policy_properties:
          - {name: HighUtilization, value: 70}
          - {name: CpuOverCommitDurationMinutes, value: 3}
        ksm: true
        ksm_numa: true
        ballooning: true
        memory_policy: server
        threads_as_cores: true
        ha_reservation: true
        vm_reason: true
        host_reason: true
        fence_enabled: true
        fence_skip_if_sd_active: true
        fence_skip_if_connectivity_broken: true
        fence_connectivity_threshold: 75
        fence_skip_if_gluster_bricks_up: false
        fence_skip_if_gluster_quorum_not_met: false
        resilience_policy: migrate_highly_available
        migration_bandwidth: custom
        migration_bandwidth_limit: 500
        migration_policy: post_copy
        migration_auto_converge: "true"
        migration_compressed: "false"
        migration_encrypted: inherit
        rng_sources: [hwrng, urandom]
        serial_policy: custom
        serial_policy_value: ansible-serial
        spice_proxy: http://proxy.example.test:3128
    - ovirt.ovirt.ovirt_cluster: *create
    - ovirt.ovirt.ovirt_cluster: &update
        auth: "{{ auth }}"
        name: "{{ name }}"
        description: Updated by Ansible
        scheduling_policy: power_saving
        memory_policy: desktop
        ksm: false
        migration_bandwidth: auto
        fence_connectivity_threshold: 25
        resilience_policy: do_not_migrate
        serial_policy: vm
    - ovirt.ovirt.ovirt_cluster: *update
    - ovirt.ovirt.ovirt_cluster: {auth: "{{ auth }}", name: "{{ name }}", state: absent}
    - ovirt.ovirt.ovirt_cluster: {auth: "{{ auth }}", name: "{{ name }}", state: absent}
"""

EVENLY_DISTRIBUTED = "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a"
POWER_SAVING = "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53"
POST_COPY = "a7aeedb2-8d66-4e51-bb22-32595027ce71"


@requires_ansible
def test_ansible_cluster_lifecycle(
    engine: EngineProcess, system: sdk.services.SystemService, unique: Names, tmp_path: Path
) -> None:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("adc")))
    name = unique("acl")
    extra = {"url": engine.url, "password": ADMIN_PASSWORD, "dc": dc.name, "name": name}
    results = run_playbook(PLAYBOOK, extra, tmp_path)
    # create, idempotent re-run, update, idempotent update, removal, removal of what is gone
    assert changed(results) == [True, False, True, False, True, False]

    # a module returns the cluster as it found it: the re-runs show what the create and the update stored
    created, updated = results[1]["cluster"], results[3]["cluster"]
    assert results[0]["id"] == created["id"] == results[2]["id"] == updated["id"]
    assert created["scheduling_policy"]["id"] == EVENLY_DISTRIBUTED
    assert created["memory_policy"]["over_commit"]["percent"] == 150
    assert created["migration"]["bandwidth"] == {"assignment_method": "custom", "custom_value": 500}
    assert created["migration"]["policy"]["id"] == POST_COPY
    assert created["fencing_policy"]["skip_if_connectivity_broken"] == {"enabled": True, "threshold": 75}
    assert created["ksm"] == {"enabled": True, "merge_across_nodes": False}
    assert sorted(created["required_rng_sources"]) == ["hwrng", "urandom"]
    assert created["serial_number"] == {"policy": "custom", "value": "ansible-serial"}
    assert created["display"]["proxy"] == "http://proxy.example.test:3128"
    assert created["data_center"]["id"] == dc.id and created["cpu"]["type"] == "Intel Nehalem Family"
    properties = {p["name"]: p["value"] for p in created["custom_scheduling_policy_properties"]}
    assert properties == {"HighUtilization": "70", "CpuOverCommitDurationMinutes": "3"}

    assert updated["description"] == "Updated by Ansible" and updated["scheduling_policy"]["id"] == POWER_SAVING
    assert updated["memory_policy"]["over_commit"]["percent"] == 200
    assert updated["migration"]["bandwidth"] == {"assignment_method": "auto"}
    assert updated["ksm"]["enabled"] is False and updated["error_handling"]["on_error"] == "do_not_migrate"
    assert updated["fencing_policy"]["skip_if_connectivity_broken"] == {"enabled": True, "threshold": 25}
    assert updated["serial_number"] == {"policy": "vm"}
    # what the update did not name is kept; a new policy brings its own default properties
    assert updated["migration"]["policy"]["id"] == POST_COPY and updated["ballooning_enabled"] is True
    properties = {p["name"]: p["value"] for p in updated["custom_scheduling_policy_properties"]}
    assert properties["LowUtilization"] == "20" and properties["HighUtilization"] == "80"

    assert system.clusters_service().list(search=f"name={name}") == []
