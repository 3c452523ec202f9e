//! The function subnet's NACL: outbound to the destination port (R20) and inbound
//! replies on 1024-65535 (R21). A destination inside the subnet crosses no NACL (§F).

use crate::diagnosis::catalog::Issue;
use crate::diagnosis::fixes::{nacl_cidr, nacl_fix};
use crate::diagnosis::nacl::Peer;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, PortRange};
use std::net::IpAddr;

/// R20: function subnet NACL, outbound to the destination port.
pub(crate) fn outbound<'a>(w: &mut Walk<'a, '_>) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    if w.src.contains(&w.dest) {
        w.hop(
            Direction::Forward,
            "nacl_out",
            "-",
            Some(&subnet),
            HopVerdict::Pass,
            "destination is in the same subnet: NACLs apply only at the subnet boundary".into(),
            &["R20"],
        );
        return vec![];
    }
    let ports = PortRange {
        from: w.flow.port,
        to: w.flow.port,
    };
    let dest = w.dest;
    if let Some((result, acl)) = w.nacl_hop(
        Direction::Forward,
        &subnet,
        true,
        &[Peer::Addr(dest)],
        ports,
        &["R20"],
    ) && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(acl, &result, w.flow.protocol, ports, nacl_cidr(&dest));
        w.issues.push(Issue::NaclOutboundDenied {
            subnet,
            result,
            protocol: w.flow.protocol,
            port: w.flow.port,
            destination: dest,
            fix,
        });
    }
    vec![]
}

/// R21: function subnet NACL, inbound replies from `from` on 1024-65535.
pub(crate) fn inbound<'a>(w: &mut Walk<'a, '_>, from: IpAddr) -> Vec<Next<'a>> {
    if w.src.contains(&from) {
        return vec![];
    }
    let subnet = w.subnet_id();
    if let Some((result, acl)) = w.nacl_hop(
        Direction::Return,
        &subnet,
        false,
        &[Peer::Addr(from)],
        PortRange::EPHEMERAL,
        &["R21"],
    ) && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(
            acl,
            &result,
            w.flow.protocol,
            PortRange::EPHEMERAL,
            nacl_cidr(&from),
        );
        w.issues.push(Issue::NaclInboundEphemeral {
            subnet,
            result,
            protocol: w.flow.protocol,
            source: from,
            fix,
        });
    }
    vec![]
}
