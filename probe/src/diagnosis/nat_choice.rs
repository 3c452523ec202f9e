//! Which NAT gateway a fix should point at, and the VPC facts fixes need (public subnets,
//! egress-only IGWs, tables that serve NAT subnets). Pure look-ups over the index.

use super::catalog::NatChoice;
use super::index::Index;
use crate::model::{NatGateway, RouteState, RouteTable, RouteTarget, Subnet};

fn usable_public(n: &NatGateway) -> bool {
    n.state == "available" && n.connectivity_type != "private" && !n.public_ips.is_empty()
}

fn nat_az<'a>(ix: &Index<'a>, n: &NatGateway) -> Option<&'a str> {
    n.subnet_id
        .as_deref()
        .and_then(|s| ix.subnet(s))
        .map(|s| s.availability_zone.as_str())
}

/// True when the table routes 0.0.0.0/0 to an IGW attached to its VPC.
pub(crate) fn is_public_table(ix: &Index<'_>, rtb: &RouteTable) -> bool {
    rtb.routes.iter().any(|r| {
        r.state == RouteState::Active
            && matches!(&r.destination, crate::model::RouteDestination::Ipv4(n) if n.prefix_len() == 0)
            && matches!(&r.target, RouteTarget::InternetGateway(g) if ix.igw(g).is_some_and(|g| g.is_attached_to(&rtb.vpc_id)))
    })
}

/// A working public NAT gateway for `subnet` (same AZ first), else where to create one.
pub(crate) fn choose(ix: &Index<'_>, subnet: &Subnet, exclude: Option<&str>) -> NatChoice {
    let mut cands: Vec<&NatGateway> = ix
        .snap
        .nat_gateways
        .iter()
        .filter(|n| n.vpc_id == subnet.vpc_id && Some(n.id.as_str()) != exclude && usable_public(n))
        .filter(|n| {
            // Zonal NAT must sit in a public subnet; regional NAT has no subnet.
            n.subnet_id.as_deref().is_none_or(|s| {
                ix.effective_route_table(s)
                    .is_some_and(|t| is_public_table(ix, t))
            })
        })
        .collect();
    cands.sort_by(|a, b| a.id.cmp(&b.id));
    let same_az = |n: &&&NatGateway| {
        nat_az(ix, n) == Some(subnet.availability_zone.as_str())
            || (n.availability_mode == "regional" && covers(n, subnet))
    };
    if let Some(n) = cands.iter().find(same_az) {
        return NatChoice::Existing {
            nat: n.id.clone(),
            same_az: true,
        };
    }
    if let Some(n) = cands.first() {
        return NatChoice::Existing {
            nat: n.id.clone(),
            same_az: false,
        };
    }
    // Where to create one: a public subnet in the subnet's AZ, else in another AZ (it
    // works, R13, and is better than a fix with a placeholder for the subnet that
    // nobody can run: the VPC lab applies the printed commands with the AWS CLI).
    NatChoice::Create {
        public_subnet: public_subnet_in_az(ix, subnet).or_else(|| public_subnet_any_az(ix, subnet)),
    }
}

/// A public subnet of the subnet's VPC in any AZ (the first by ID).
fn public_subnet_any_az(ix: &Index<'_>, subnet: &Subnet) -> Option<String> {
    let mut v: Vec<&Subnet> = ix
        .snap
        .subnets
        .iter()
        .filter(|s| s.vpc_id == subnet.vpc_id)
        .filter(|s| nat_home(ix, s, subnet))
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.first().map(|s| s.id.clone())
}

/// Whether a new NAT gateway for `subnet` can live in `s`: a public subnet (its table
/// routes 0.0.0.0/0 to an attached IGW, R12) that does not use `subnet`'s route table,
/// which the fix points at the new NAT gateway (the NAT's own default route would then
/// lead to itself).
fn nat_home(ix: &Index<'_>, s: &Subnet, subnet: &Subnet) -> bool {
    let own = ix.effective_route_table(&subnet.id).map(|t| t.id.as_str());
    ix.effective_route_table(&s.id)
        .is_some_and(|t| is_public_table(ix, t) && Some(t.id.as_str()) != own)
}

/// A public subnet (routes 0.0.0.0/0 to an attached IGW) in the subnet's AZ.
pub(crate) fn public_subnet_in_az(ix: &Index<'_>, subnet: &Subnet) -> Option<String> {
    let mut v: Vec<&Subnet> = ix
        .snap
        .subnets
        .iter()
        .filter(|s| s.vpc_id == subnet.vpc_id && s.availability_zone == subnet.availability_zone)
        .filter(|s| nat_home(ix, s, subnet))
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.first().map(|s| s.id.clone())
}

/// The VPC's attached egress-only IGW, if any (for IPv6 fixes).
pub(crate) fn eigw_of(ix: &Index<'_>, vpc: &str) -> Option<String> {
    let mut v: Vec<&str> = ix
        .snap
        .egress_only_internet_gateways
        .iter()
        .filter(|g| g.is_attached_to(vpc))
        .map(|g| g.id.as_str())
        .collect();
    v.sort();
    v.first().map(|s| s.to_string())
}

/// True when a subnet that holds a NAT gateway uses this table.
pub(crate) fn table_serves_nat_subnet(ix: &Index<'_>, rtb: &RouteTable) -> bool {
    ix.snap.nat_gateways.iter().any(|n| {
        n.subnet_id
            .as_deref()
            .and_then(|s| ix.effective_route_table(s))
            .is_some_and(|t| t.id == rtb.id)
    })
}

/// R14: a regional NAT is registered in the subnet's AZ (name or AZ ID), or provisions
/// zones automatically.
pub(crate) fn covers(n: &NatGateway, subnet: &Subnet) -> bool {
    n.auto_provision_zones == Some(true)
        || n.regional_zones.iter().any(|z| {
            z == &subnet.availability_zone
                || Some(z.as_str()) == subnet.availability_zone_id.as_deref()
        })
}
