"""moto_server with the transit-gateway answers made to follow the EC2 API reference.

moto 5.2.5 gets several transit-gateway answers wrong (moto-notes §5): an attachment always
reports the TGW's default route table as its association, static routes lose their target
attachment, propagation installs no routes, and most filters of
DescribeTransitGatewayAttachments and SearchTransitGatewayRoutes are ignored. The VPC lab
builds its data plane from these answers and the product diagnoses from them, so the tests
start moto through this file, which patches moto's backend in-process and then runs the
ordinary `moto_server` entry point with the same arguments:

    python tests/moto/patched_server.py -H 127.0.0.1 -p PORT

What changes (each as the API reference says; listed in the README's "moto vs AWS"):
* a TGW created with DefaultRouteTableAssociation=disable and DefaultRouteTablePropagation=
  disable has no default route table; new attachments are associated with / propagated to the
  default table only when those options are `enable`;
* `Association` of an attachment is what Associate/DisassociateTransitGatewayRouteTable left
  (none after a disassociation);
* a static route keeps `TransitGatewayAttachments` (a list with its target);
* an enabled propagation adds the attached VPC's CIDRs as `propagated` routes, hidden by a
  static route for the same CIDR (R39);
* SearchTransitGatewayRoutes applies route-search.exact-match / longest-prefix-match /
  subnet-of-match / supernet-of-match, type, state and attachment.* filters;
* DescribeTransitGatewayAttachments applies state, association.* and attachment-id filters;
* ReplaceTransitGatewayRoute exists (moto has none): the route for the destination gets the
  new attachment or becomes a blackhole; InvalidRoute.NotFound when there is none.
* every new VPC is associated with the Region's default DHCP options set (one `dopt-…` per
  account and Region: `domain-name-servers = AmazonProvidedDNS`, `domain-name` the Region's
  internal domain), as AWS does; moto leaves it with none and reports `default`, which on
  AWS means *no* DHCP options (R25). Deleting a VPC keeps that shared set.
* a private IPv4 address moto picks for a network interface (a Lambda ENI, an endpoint's,
  a NAT gateway's, an instance's) is never one AWS reserves in the subnet (the first four
  and the last: the network address, the VPC router at +1, the DNS server at +2, +3, the
  broadcast address) nor one it already handed out in that subnet (the lowest free one);
  moto picked any address of the CIDR at random, and the lab's Lambda ENI then sometimes
  sat on the router's or the broadcast address (ARP to the router failed, and a healthy
  path failed with EHOSTUNREACH).
* Lambda PutFunctionEventInvokeConfig overwrites the function's configuration (moto appends a
  second one and GetFunctionEventInvokeConfig keeps answering the first; issue 14's manager
  sets the probes' report destinations with it).
"""

import ipaddress
import sys

from moto.ec2.models import transit_gateway as tgw_mod
from moto.ec2.models import transit_gateway_attachments as att_mod
from moto.ec2.models import transit_gateway_route_tables as rtb_mod
from moto.ec2.responses import transit_gateway_route_tables as rtb_resp


def _both_defaults_off(options):
    return (
        options.get("DefaultRouteTableAssociation") == "disable"
        and options.get("DefaultRouteTablePropagation") == "disable"
    )


_orig_tgw_init = tgw_mod.TransitGateway.__init__


def _tgw_init(self, backend, description, options=None):
    _orig_tgw_init(self, backend, description, options)
    if _both_defaults_off(self.options):
        backend.transit_gateways_route_tables.pop(self.default_route_table.id, None)
        self.default_route_table = None
        self.options.pop("AssociationDefaultRouteTableId", None)
        self.options.pop("PropagationDefaultRouteTableId", None)


tgw_mod.TransitGateway.__init__ = _tgw_init


def _association(self):
    data = self._association_data
    if self.state == "available" and data.get("transitGatewayRouteTableId"):
        return {
            "State": data.get("state", "associated"),
            "TransitGatewayRouteTableId": data["transitGatewayRouteTableId"],
        }
    return None


att_mod.TransitGatewayAttachment.association = property(_association)

_orig_att_init = att_mod.TransitGatewayAttachment.__init__


def _att_init(self, backend, resource_id, resource_type, transit_gateway, tags=None):
    # The default route table may not exist (both defaults disabled).
    if transit_gateway.default_route_table is None:
        saved = transit_gateway.default_route_table
        _orig_att_init(self, backend, resource_id, resource_type, transit_gateway, tags)
        self.transit_gateway_route_table = saved
    else:
        _orig_att_init(self, backend, resource_id, resource_type, transit_gateway, tags)


att_mod.TransitGatewayAttachment.__init__ = _att_init


def _create_vpc_attachment(self, transit_gateway_id, vpc_id, subnet_ids, tags=None, options=None):
    from moto.ec2.exceptions import InvalidTransitGatewayID

    tgw = self.transit_gateways.get(transit_gateway_id)
    if not tgw:
        raise InvalidTransitGatewayID(
            transit_gateway_id,
            f"Transit Gateway {transit_gateway_id} was deleted or does not exist.",
        )
    att = att_mod.TransitGatewayVpcAttachment(
        self, transit_gateway=tgw, tags=tags, vpc_id=vpc_id, subnet_ids=subnet_ids, options=options
    )
    self.transit_gateway_attachments[att.id] = att
    default = tgw.default_route_table
    if default is not None and tgw.options.get("DefaultRouteTableAssociation") == "enable":
        self.associate_transit_gateway_route_table(att.id, default.id)
    if default is not None and tgw.options.get("DefaultRouteTablePropagation") == "enable":
        self.enable_transit_gateway_route_table_propagation(att.id, default.id)
    return att


att_mod.TransitGatewayAttachmentBackend.create_transit_gateway_vpc_attachment = (
    _create_vpc_attachment
)


def _first(filters, name):
    values = filters.get(name) if filters else None
    return values or None


def _describe_attachments(self, transit_gateways_attachment_ids=None, filters=None):
    result = list(self.transit_gateway_attachments.values())
    if transit_gateways_attachment_ids:
        result = [a for a in result if a.id in transit_gateways_attachment_ids]
    filters = filters or {}

    def keep(a):
        assoc = a.association or {}
        checks = {
            "resource-id": a.resource_id,
            "resource-type": a.resource_type,
            "transit-gateway-id": a.transit_gateway_id,
            "transit-gateway-attachment-id": a.id,
            "state": a.state,
            "association.state": assoc.get("State"),
            "association.transit-gateway-route-table-id": assoc.get(
                "TransitGatewayRouteTableId"
            ),
            "resource-owner-id": a.resource_owner_id,
            "transit-gateway-owner-id": a.owner_id,
        }
        for name, values in filters.items():
            if name in checks and checks[name] not in values:
                return False
            if name.startswith("tag:"):
                key = name[4:]
                if a.get_tags() and not any(
                    t["Key"] == key and t["Value"] in values for t in a.get_tags()
                ):
                    return False
        return True

    return [a for a in result if keep(a)]


att_mod.TransitGatewayAttachmentBackend.describe_transit_gateway_attachments = (
    _describe_attachments
)

_orig_create_route = rtb_mod.TransitGatewayRouteTableBackend.create_transit_gateway_route


def _create_route(
    self, transit_gateway_route_table_id, destination_cidr_block,
    transit_gateway_attachment_id=None, blackhole=False,
):
    route = _orig_create_route(
        self, transit_gateway_route_table_id, destination_cidr_block,
        transit_gateway_attachment_id, blackhole,
    )
    att = route.get("transitGatewayAttachments")
    if isinstance(att, dict):
        route["transitGatewayAttachments"] = [att]
    elif att is None:
        route["transitGatewayAttachments"] = []
    return route


rtb_mod.TransitGatewayRouteTableBackend.create_transit_gateway_route = _create_route


def _propagated_routes(backend, table):
    routes = []
    for prop in table.route_table_propagation:
        if getattr(prop, "state", "enabled") != "enabled":
            continue
        att = backend.transit_gateway_attachments.get(prop.transitGatewayAttachmentId)
        if att is None or att.resource_type != "vpc":
            continue
        try:
            vpc = backend.get_vpc(att.resource_id)
        except Exception:  # the VPC is gone: nothing to propagate
            continue
        cidrs = [c["cidr_block"] for c in vpc.cidr_block_association_set if c.get("cidr_block")]
        for cidr in cidrs or [vpc.cidr_block]:
            routes.append(
                {
                    "destinationCidrBlock": cidr,
                    "prefixListId": None,
                    "state": "active",
                    "type": "propagated",
                    "transitGatewayAttachments": [
                        {
                            "resourceId": att.resource_id,
                            "resourceType": att.resource_type,
                            "transitGatewayAttachmentId": att.id,
                        }
                    ],
                }
            )
    return routes


def _net(text):
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        return None


def _search_routes(self, transit_gateway_route_table_id, filters, max_results=None):
    table = self.transit_gateways_route_tables.get(transit_gateway_route_table_id)
    if not table:
        return []
    static = [dict(r) for r in table.routes.values()]
    for r in static:
        att = r.get("transitGatewayAttachments")
        if isinstance(att, dict):
            r["transitGatewayAttachments"] = [att]
    static_cidrs = {r["destinationCidrBlock"] for r in static}
    # R39: a static route hides a propagated route for the same CIDR.
    routes = static + [
        r for r in _propagated_routes(self, table) if r["destinationCidrBlock"] not in static_cidrs
    ]
    filters = filters or {}

    def values(name):
        return filters.get(name) or []

    def keep(r):
        dest = _net(r.get("destinationCidrBlock"))
        if values("type") and r.get("type") not in values("type"):
            return False
        if values("state") and r.get("state") not in values("state"):
            return False
        if values("route-search.exact-match") and r.get("destinationCidrBlock") not in values(
            "route-search.exact-match"
        ):
            return False
        for v in values("route-search.subnet-of-match"):
            n = _net(v)
            if dest is None or n is None or dest.version != n.version or not dest.subnet_of(n):
                return False
        for v in values("route-search.supernet-of-match"):
            n = _net(v)
            if dest is None or n is None or dest.version != n.version or not n.subnet_of(dest):
                return False
        atts = r.get("transitGatewayAttachments") or []
        for key, field in (
            ("attachment.transit-gateway-attachment-id", "transitGatewayAttachmentId"),
            ("attachment.resource-id", "resourceId"),
            ("attachment.resource-type", "resourceType"),
        ):
            if values(key) and not any(a.get(field) in values(key) for a in atts):
                return False
        return True

    routes = [r for r in routes if keep(r)]
    lpm = values("route-search.longest-prefix-match")
    if lpm:
        matched = []
        for v in lpm:
            n = _net(v)
            if n is None:
                continue
            covering = [
                r for r in routes
                if (d := _net(r.get("destinationCidrBlock"))) is not None
                and d.version == n.version and n.subnet_of(d)
            ]
            if covering:
                best = max(_net(r["destinationCidrBlock"]).prefixlen for r in covering)
                matched.extend(
                    r for r in covering if _net(r["destinationCidrBlock"]).prefixlen == best
                )
        routes = matched
    if max_results:
        routes = routes[: int(max_results)]
    return routes


rtb_mod.TransitGatewayRouteTableBackend.search_transit_gateway_routes = _search_routes

_orig_disassociate = rtb_mod.TransitGatewayRouteTableBackend.disassociate_transit_gateway_route_table


def _disassociate(self, tgw_attach_id, tgw_rt_id):
    if tgw_attach_id not in self.transit_gateway_associations:
        # Associated at creation (default table): make the relation known first.
        self.transit_gateway_associations[tgw_attach_id] = rtb_mod.TransitGatewayRelations(
            self, tgw_attach_id, tgw_rt_id, state="associated"
        )
    return _orig_disassociate(self, tgw_attach_id, tgw_rt_id)


rtb_mod.TransitGatewayRouteTableBackend.disassociate_transit_gateway_route_table = _disassociate



# ReplaceTransitGatewayRoute: moto has none (the action answers HTTP 500). The AWS CLI runs
# the fix `replace-transit-gateway-route` that egress-probe prints for a blackhole (R40) in
# tests/tests/lab_fixes.rs: as the API reference says, the static route for the same
# destination must exist (else InvalidRoute.NotFound) and gets the new target or
# `--blackhole`.
def _replace_route(
    self, transit_gateway_route_table_id, destination_cidr_block,
    transit_gateway_attachment_id=None, blackhole=False,
):
    from moto.ec2.exceptions import InvalidRouteError

    table = self.transit_gateways_route_tables[transit_gateway_route_table_id]
    if destination_cidr_block not in table.routes:
        raise InvalidRouteError(transit_gateway_route_table_id, destination_cidr_block)
    table.routes.pop(destination_cidr_block)
    return self.create_transit_gateway_route(
        transit_gateway_route_table_id, destination_cidr_block,
        transit_gateway_attachment_id, blackhole,
    )


rtb_mod.TransitGatewayRouteTableBackend.replace_transit_gateway_route = _replace_route


def _replace_route_response(self):
    from moto.core.responses import ActionResult
    from moto.utilities.utils import str2bool

    route = self.ec2_backend.replace_transit_gateway_route(
        transit_gateway_route_table_id=self._get_param("TransitGatewayRouteTableId"),
        destination_cidr_block=self._get_param("DestinationCidrBlock"),
        transit_gateway_attachment_id=self._get_param("TransitGatewayAttachmentId"),
        blackhole=str2bool(self._get_param("Blackhole")),
    )
    return ActionResult({"route": route})


rtb_resp.TransitGatewayRouteTable.replace_transit_gateway_route = _replace_route_response


from moto.awslambda import models as lambda_mod

_orig_put_eic = lambda_mod.LambdaBackend.put_function_event_invoke_config


def _put_event_invoke_config(self, function_name, config):
    self.get_function(function_name).event_invoke_config = []
    return _orig_put_eic(self, function_name, config)


lambda_mod.LambdaBackend.put_function_event_invoke_config = _put_event_invoke_config


from moto.ec2.models import vpcs as vpcs_mod

_orig_create_vpc = vpcs_mod.VPCBackend.create_vpc
_orig_delete_vpc = vpcs_mod.VPCBackend.delete_vpc


def _region_default_dhcp_options(backend):
    """The account and Region's default set, created once (AWS: the first VPC's)."""
    found = getattr(backend, "_egress_probe_default_dopt", None)
    if found is not None and found.id in backend.dhcp_options_sets:
        return found
    region = backend.region_name
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    found = backend.create_dhcp_options(
        domain_name_servers=["AmazonProvidedDNS"], domain_name=[domain]
    )
    backend._egress_probe_default_dopt = found
    return found


def _create_vpc(self, *args, **kwargs):
    vpc = _orig_create_vpc(self, *args, **kwargs)
    # Not `associate_dhcp_options`: moto's set keeps one `vpc`, and the shared set must not
    # count as in use by the last VPC only.
    vpc.dhcp_options = _region_default_dhcp_options(self)
    return vpc


def _delete_vpc(self, vpc_id):
    vpc = self.vpcs.get(vpc_id)
    shared = getattr(self, "_egress_probe_default_dopt", None)
    if vpc is not None and shared is not None and vpc.dhcp_options is shared:
        # moto deletes a deleted VPC's set; the Region's default outlives every VPC.
        vpc.dhcp_options = None
        try:
            return _orig_delete_vpc(self, vpc_id)
        except Exception:
            vpc.dhcp_options = shared
            raise
    return _orig_delete_vpc(self, vpc_id)


vpcs_mod.VPCBackend.create_vpc = _create_vpc
vpcs_mod.VPCBackend.delete_vpc = _delete_vpc


import random

from moto.ec2 import utils as ec2_utils
from moto.ec2.models import elastic_network_interfaces as eni_mod
from moto.ec2.models import instances as instances_mod
from moto.ec2.models import nat_gateways as nat_mod

_orig_random_private_ip = ec2_utils.random_private_ip
# Addresses handed out per subnet CIDR for this server's life (never handed out twice).
_handed_out = {}


def _random_private_ip(cidr=None, ipv6=False):
    if ipv6 or not cidr:
        return _orig_random_private_ip(cidr, ipv6)
    net = ipaddress.IPv4Network(cidr, strict=False)
    first = int(net.network_address) + 4
    last = int(net.broadcast_address) - 1
    if last < first:
        return _orig_random_private_ip(cidr, ipv6)
    # The lowest address not handed out yet (AWS picks any free one): the lab chooses the
    # addresses of its own hosts (NAT gateways, endpoints) from the top of the subnet down,
    # so the two never meet in a subnet that is not nearly full.
    used = _handed_out.setdefault(str(net), set())
    pick = next((a for a in range(first, last + 1) if a not in used), None)
    if pick is None:
        pick = random.randint(first, last)
    used.add(pick)
    return str(ipaddress.IPv4Address(pick))


for _mod in (eni_mod, instances_mod, nat_mod, vpcs_mod):
    if hasattr(_mod, "random_private_ip"):
        _mod.random_private_ip = _random_private_ip


if __name__ == "__main__":
    from moto.server import main

    sys.argv[0] = "moto_server"
    sys.exit(main())
