"""RBAC policies on networks (``rbac-policies``): sharing with one project or every project, external networks for
one project, what each project then sees, the in-use rule, and Neutron's policy and errors."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error

WILDCARD_REFUSED = (
    "((((rule:create_rbac_policy and rule:create_rbac_policy:object_type) and rule:create_rbac_policy:object_id) and "
    "rule:create_rbac_policy:target_tenant) and rule:create_rbac_policy:action) is disallowed by policy"
)


def _policy(network_id: str, target: str, action: str = "access_as_shared") -> dict[str, Any]:
    return {"rbac_policy": {"object_type": "network", "object_id": network_id, "action": action,
                            "target_tenant": target}}  # fmt: skip


def _shared(client: httpx.Client, network_id: str) -> Any:
    answer = client.get(f"/networks/{network_id}?fields=shared")
    return answer.json()["network"]["shared"] if answer.status_code == 200 else answer.status_code


def test_a_network_shared_with_one_project(lab: Lab, raw: httpx.Client, target: Target) -> None:
    (owner, p1), (other, p2), (third, p3) = (target.member("rbac") for _ in range(3))
    network = lab.network(conn=owner)
    subnet = lab.subnet(network, cidr="10.81.0.0/24", conn=owner)
    with target.raw(owner.session.get_token()) as mine, target.raw(other.session.get_token()) as theirs, \
            target.raw(third.session.get_token()) as outsider:  # fmt: skip
        assert _shared(theirs, network.id) == 404
        created = mine.post("/rbac-policies", json=_policy(network.id, p2))
        assert created.status_code == 201, created.text
        policy = created.json()["rbac_policy"]
        assert policy == {"id": policy["id"], "project_id": p1, "tenant_id": p1, "object_type": "network",
                          "object_id": network.id, "action": "access_as_shared", "target_tenant": p2}  # fmt: skip
        lab.later(lambda: lab.admin.network.delete_rbac_policy(policy["id"], ignore_missing=True))
        # shared as the project it names sees it; not as the owner (nor an admin) sees it
        seen = (_shared(theirs, network.id), _shared(mine, network.id), _shared(raw, network.id))
        assert seen == (True, False, False)
        assert _shared(outsider, network.id) == 404
        ids = f"/networks?id={network.id}&fields=id"
        assert theirs.get(f"{ids}&shared=true").json()["networks"] == [{"id": network.id}]
        assert mine.get(f"{ids}&shared=false").json()["networks"] == [{"id": network.id}]
        assert theirs.get(f"{ids}&shared=false").json()["networks"] == []
        assert [s["id"] for s in theirs.get(f"/subnets?network_id={network.id}").json()["subnets"]] == [subnet.id]
        # the named project sees the network, not the policy
        assert theirs.get("/rbac-policies").json() == {"rbac_policies": []}
        hidden = theirs.get(f"/rbac-policies/{policy['id']}")
        assert neutron_error(hidden, 404, "RbacPolicyNotFound") == (
            f"RBAC policy of type unknown with ID {policy['id']} not found"
        )

        port = other.network.create_port(network_id=network.id)  # on a network shared with it
        in_use = mine.delete(f"/rbac-policies/{policy['id']}")
        message = neutron_error(in_use, 409, "RbacPolicyInUse")
        assert message.startswith(f"RBAC policy on object {network.id} cannot be removed because other objects")
        assert f"Unable to reconfigure sharing settings for network {network.id}." in message
        other.network.delete_port(port)

        moved = mine.put(f"/rbac-policies/{policy['id']}", json={"rbac_policy": {"target_tenant": p3}})
        assert moved.status_code == 200 and moved.json()["rbac_policy"]["target_tenant"] == p3
        assert (_shared(theirs, network.id), _shared(outsider, network.id)) == (404, True)
        assert owner.network.get_rbac_policy(policy["id"]).target_project_id == p3

        duplicate = mine.post("/rbac-policies", json=_policy(network.id, p3))
        assert neutron_error(duplicate, 409, "DuplicateRbacPolicy") == (
            "An RBAC policy already exists with those values."
        )
        assert neutron_error(mine.post("/rbac-policies", json=_policy(network.id, "*")), 403,
                             "PolicyNotAuthorized") == WILDCARD_REFUSED  # fmt: skip
        everyone = mine.put(f"/rbac-policies/{policy['id']}", json={"rbac_policy": {"target_tenant": "*"}})
        assert neutron_error(everyone, 403, "PolicyNotAuthorized") == (
            "(rule:update_rbac_policy and rule:update_rbac_policy:target_tenant) is disallowed by policy"
        )
        action = mine.put(f"/rbac-policies/{policy['id']}", json={"rbac_policy": {"action": "access_as_external"}})
        assert neutron_error(action, 400, "HTTPBadRequest") == "Cannot update read-only attribute action"
        not_owner = outsider.post("/rbac-policies", json=_policy(network.id, p2))
        assert "Only admins can manipulate policies on objects they do not own." in neutron_error(
            not_owner, 400, "InvalidInput")  # fmt: skip

        assert mine.delete(f"/rbac-policies/{policy['id']}").status_code == 204
        assert _shared(outsider, network.id) == 404


def test_bad_policies(raw: httpx.Client, lab: Lab) -> None:
    network = lab.network()
    somebody = uuid.uuid4().hex
    bogus_type = {"rbac_policy": {**_policy(network.id, somebody)["rbac_policy"], "object_type": "bogus"}}
    assert neutron_error(raw.post("/rbac-policies", json=bogus_type), 400, "InvalidInput") == (
        "Invalid input for operation: 'bogus' is not a valid RBAC object type."
    )
    not_a_project = raw.post("/rbac-policies", json=_policy(network.id, "p", action="bogus"))
    assert neutron_error(not_a_project, 400, "InvalidInput") == (
        "Invalid input for operation: 'p' is not a valid target project ID; expected a UUID or '*'."
    )
    bogus_action = raw.post("/rbac-policies", json=_policy(network.id, somebody, action="bogus"))
    assert neutron_error(bogus_action, 400, "InvalidActionForType") == (
        "Invalid action 'bogus' for object type 'network'. Valid actions: ('access_as_shared', 'access_as_external')"
    )
    no_target = {"rbac_policy": {"object_type": "network", "object_id": network.id, "action": "access_as_shared"}}
    assert neutron_error(raw.post("/rbac-policies", json=no_target), 400, "HTTPBadRequest") == (
        "Failed to parse request. Required attribute 'target_tenant' not specified"
    )
    missing = "00000000-0000-0000-0000-0000000000aa"
    assert f"Network {missing} could not be found." in neutron_error(
        raw.post("/rbac-policies", json=_policy(missing, somebody)), 400, "InvalidInput")  # fmt: skip
    unknown = {"rbac_policy": {**_policy(network.id, somebody)["rbac_policy"], "bogus": 1}}
    assert neutron_error(raw.post("/rbac-policies", json=unknown), 400, "HTTPBadRequest") == (
        "Unrecognized attribute(s) 'bogus'"
    )


def test_shared_and_external_are_policies_for_everyone(admin: Connection, lab: Lab, raw: httpx.Client,
                                                        target: Target) -> None:  # fmt: skip
    def policies(network_id: str) -> set[tuple[str, str]]:
        return {(p.action, p.target_project_id) for p in admin.network.rbac_policies(object_id=network_id)}

    shared = lab.network(is_shared=True)
    assert policies(shared.id) == {("access_as_shared", "*")}
    admin.network.update_network(shared, is_shared=False)
    assert policies(shared.id) == set()
    admin.network.update_network(shared, is_shared=True)
    assert policies(shared.id) == {("access_as_shared", "*")}

    plain = lab.network()
    everyone = admin.network.create_rbac_policy(object_type="network", object_id=plain.id, action="access_as_shared",
                                                target_project_id="*")  # fmt: skip
    assert admin.network.get_network(plain.id).is_shared is True
    admin.network.delete_rbac_policy(everyone)
    assert admin.network.get_network(plain.id).is_shared is False

    external = lab.network(is_router_external=True)
    assert policies(external.id) == {("access_as_external", "*")}
    lab.subnet(external, cidr="172.24.81.0/24")

    # external for one project: it sees the network as external and may put a router's gateway there
    member, project = target.member("rbac-ext")
    own_external = lab.network()
    lab.subnet(own_external, cidr="172.24.82.0/24")
    opened = admin.network.create_rbac_policy(object_type="network", object_id=own_external.id,
                                              action="access_as_external", target_project_id=project)  # fmt: skip
    assert member.network.get_network(own_external.id).is_router_external is True
    assert admin.network.get_network(own_external.id).is_router_external is True  # external to all who see it
    outsider, _ = target.member("rbac-out")
    assert outsider.network.find_network(own_external.id) is None  # but seen only by the project named
    router = member.network.create_router(name=lab.name("r"), external_gateway_info={"network_id": own_external.id})
    lab.later(lambda: admin.network.delete_router(router.id, ignore_missing=True))
    with target.raw(member.session.get_token()) as client:
        listed = client.get(f"/networks?id={own_external.id}&router:external=true&fields=id").json()["networks"]
        assert listed == [{"id": own_external.id}]
    admin.network.update_router(router, external_gateway_info={})
    admin.network.delete_rbac_policy(opened)
    assert raw.get(f"/networks/{own_external.id}").json()["network"]["router:external"] is False
