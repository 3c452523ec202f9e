//! Lookup tables built once per diagnosis, so that evaluating hundreds of (subnet, flow)
//! pairs stays linear in the snapshot's size.

use super::firewall_policy::StatefulRules;
use super::nacl::{NaclResult, Peer};
use crate::model::Protocol;
use crate::model::{
    InternetGateway, NaclEntry, NatGateway, NetworkAcl, NetworkInterface, NetworkSnapshot,
    PrefixList, RouteTable, SecurityGroup, Subnet, Vpc, VpcEndpoint,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A memoised NACL evaluation and the hop text it produced.
pub(crate) type NaclMemo = (Rc<NaclResult>, Rc<str>);

/// A firewall policy's ARN and the VPC its firewall is deployed in.
pub(crate) type FirewallKey = (String, Option<String>);

/// One NACL evaluation: which ACL, direction, protocol, peers and port range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NaclKey {
    /// Address of the ACL within the snapshot (stable for one diagnosis).
    pub acl: usize,
    pub egress: bool,
    pub protocol: Protocol,
    pub peers: Vec<Peer>,
    pub ports: (u16, u16),
}
use std::net::IpAddr;

/// A network ACL with its entries split by direction and sorted by rule number (§F).
/// AWS's own `*` entries (32767 IPv4, 32768 IPv6) are dropped: the evaluator applies the
/// implicit deny itself, so custom NACLs read from moto (which omits them) behave the same.
pub(crate) struct SortedAcl<'a> {
    pub acl: &'a NetworkAcl,
    pub egress: Vec<&'a NaclEntry>,
    pub ingress: Vec<&'a NaclEntry>,
}

/// Rule numbers at or above this are AWS's implicit deny entries.
pub(crate) const IMPLICIT_RULE: i32 = 32767;

impl<'a> SortedAcl<'a> {
    pub fn new(acl: &'a NetworkAcl) -> Self {
        let mut egress: Vec<&NaclEntry> = acl
            .entries
            .iter()
            .filter(|e| e.egress && e.rule_number < IMPLICIT_RULE)
            .collect();
        let mut ingress: Vec<&NaclEntry> = acl
            .entries
            .iter()
            .filter(|e| !e.egress && e.rule_number < IMPLICIT_RULE)
            .collect();
        egress.sort_by_key(|e| e.rule_number);
        ingress.sort_by_key(|e| e.rule_number);
        Self {
            acl,
            egress,
            ingress,
        }
    }
    pub fn entries(&self, egress: bool) -> &[&'a NaclEntry] {
        if egress { &self.egress } else { &self.ingress }
    }
}

pub(crate) struct Index<'a> {
    pub snap: &'a NetworkSnapshot,
    subnets: HashMap<&'a str, &'a Subnet>,
    vpcs: HashMap<&'a str, &'a Vpc>,
    rtb_explicit: HashMap<&'a str, &'a RouteTable>,
    rtb_main: HashMap<&'a str, &'a RouteTable>,
    acl_explicit: HashMap<&'a str, usize>,
    acl_default: HashMap<&'a str, usize>,
    acls: Vec<SortedAcl<'a>>,
    nats: HashMap<&'a str, &'a NatGateway>,
    igws: HashMap<&'a str, &'a InternetGateway>,
    eigws: HashMap<&'a str, &'a InternetGateway>,
    sgs: HashMap<&'a str, &'a SecurityGroup>,
    pls: HashMap<&'a str, &'a PrefixList>,
    endpoints: HashMap<&'a str, &'a VpcEndpoint>,
    enis: HashMap<&'a str, &'a NetworkInterface>,
    eni_by_ip: HashMap<IpAddr, &'a NetworkInterface>,
    enis_by_subnet: HashMap<&'a str, Vec<&'a NetworkInterface>>,
    /// Memo of NACL evaluations and their hop text (pure: same input, same answer).
    pub nacl_cache: RefCell<HashMap<NaclKey, NaclMemo>>,
    /// Stateful rules parsed once per (firewall policy ARN, firewall VPC), for every flow
    /// that crosses the firewall (its `HOME_NET` default depends on the VPC, R52).
    pub firewall_rules: RefCell<HashMap<FirewallKey, Rc<StatefulRules<'a>>>>,
}

impl<'a> Index<'a> {
    pub fn new(snap: &'a NetworkSnapshot) -> Self {
        let mut rtb_explicit = HashMap::new();
        let mut rtb_main = HashMap::new();
        for rt in &snap.route_tables {
            for s in &rt.subnet_ids {
                rtb_explicit.entry(s.as_str()).or_insert(rt);
            }
            if rt.main {
                rtb_main.entry(rt.vpc_id.as_str()).or_insert(rt);
            }
        }
        let acls: Vec<SortedAcl> = snap.network_acls.iter().map(SortedAcl::new).collect();
        let mut acl_explicit = HashMap::new();
        let mut acl_default = HashMap::new();
        for (i, a) in snap.network_acls.iter().enumerate() {
            for s in &a.subnet_ids {
                acl_explicit.entry(s.as_str()).or_insert(i);
            }
            if a.is_default {
                acl_default.entry(a.vpc_id.as_str()).or_insert(i);
            }
        }
        let mut eni_by_ip = HashMap::new();
        let mut enis_by_subnet: HashMap<&str, Vec<&NetworkInterface>> = HashMap::new();
        for e in &snap.network_interfaces {
            enis_by_subnet
                .entry(e.subnet_id.as_str())
                .or_default()
                .push(e);
            for ip in &e.private_ips {
                eni_by_ip.entry(IpAddr::V4(*ip)).or_insert(e);
            }
            for ip in &e.ipv6_addresses {
                eni_by_ip.entry(IpAddr::V6(*ip)).or_insert(e);
            }
        }
        Self {
            snap,
            subnets: snap.subnets.iter().map(|s| (s.id.as_str(), s)).collect(),
            vpcs: snap.vpcs.iter().map(|v| (v.id.as_str(), v)).collect(),
            rtb_explicit,
            rtb_main,
            acl_explicit,
            acl_default,
            acls,
            nats: snap
                .nat_gateways
                .iter()
                .map(|n| (n.id.as_str(), n))
                .collect(),
            igws: snap
                .internet_gateways
                .iter()
                .map(|g| (g.id.as_str(), g))
                .collect(),
            eigws: snap
                .egress_only_internet_gateways
                .iter()
                .map(|g| (g.id.as_str(), g))
                .collect(),
            sgs: snap
                .security_groups
                .iter()
                .map(|g| (g.id.as_str(), g))
                .collect(),
            pls: snap
                .prefix_lists
                .iter()
                .map(|p| (p.id.as_str(), p))
                .collect(),
            endpoints: snap
                .vpc_endpoints
                .iter()
                .map(|e| (e.id.as_str(), e))
                .collect(),
            enis: snap
                .network_interfaces
                .iter()
                .map(|e| (e.id.as_str(), e))
                .collect(),
            eni_by_ip,
            enis_by_subnet,
            nacl_cache: RefCell::new(HashMap::new()),
            firewall_rules: RefCell::new(HashMap::new()),
        }
    }
    pub fn subnet(&self, id: &str) -> Option<&'a Subnet> {
        self.subnets.get(id).copied()
    }
    pub fn vpc(&self, id: &str) -> Option<&'a Vpc> {
        self.vpcs.get(id).copied()
    }
    /// R5: explicit association, else the VPC's main table.
    pub fn effective_route_table(&self, subnet_id: &str) -> Option<&'a RouteTable> {
        if let Some(rt) = self.rtb_explicit.get(subnet_id) {
            return Some(rt);
        }
        let vpc = &self.subnet(subnet_id)?.vpc_id;
        self.rtb_main.get(vpc.as_str()).copied()
    }
    pub fn acl_for_subnet(&self, subnet_id: &str) -> Option<&SortedAcl<'a>> {
        if let Some(i) = self.acl_explicit.get(subnet_id) {
            return self.acls.get(*i);
        }
        let vpc = &self.subnet(subnet_id)?.vpc_id;
        self.acl_default
            .get(vpc.as_str())
            .and_then(|i| self.acls.get(*i))
    }
    pub fn nat(&self, id: &str) -> Option<&'a NatGateway> {
        self.nats.get(id).copied()
    }
    pub fn igw(&self, id: &str) -> Option<&'a InternetGateway> {
        self.igws.get(id).copied()
    }
    pub fn eigw(&self, id: &str) -> Option<&'a InternetGateway> {
        self.eigws.get(id).copied()
    }
    pub fn sg(&self, id: &str) -> Option<&'a SecurityGroup> {
        self.sgs.get(id).copied()
    }
    pub fn prefix_list(&self, id: &str) -> Option<&'a PrefixList> {
        self.pls.get(id).copied()
    }
    pub fn endpoint(&self, id: &str) -> Option<&'a VpcEndpoint> {
        self.endpoints.get(id).copied()
    }
    pub fn eni(&self, id: &str) -> Option<&'a NetworkInterface> {
        self.enis.get(id).copied()
    }
    /// ENIs in a subnet, in snapshot order.
    pub fn enis_in_subnet(&self, subnet: &str) -> &[&'a NetworkInterface] {
        self.enis_by_subnet
            .get(subnet)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
    pub fn eni_with_ip(&self, ip: &IpAddr) -> Option<&'a NetworkInterface> {
        self.eni_by_ip.get(ip).copied()
    }
    /// True when the snapshot records a failed call whose name contains `call`.
    pub fn gap(&self, call: &str) -> Option<&'a crate::model::SnapshotGap> {
        self.snap.gaps.iter().find(|g| g.call.contains(call))
    }
    /// Internet gateways attached to `vpc_id` (R16).
    pub fn attached_igw(&self, vpc_id: &str) -> Option<&'a InternetGateway> {
        let mut v: Vec<&InternetGateway> = self
            .snap
            .internet_gateways
            .iter()
            .filter(|g| g.is_attached_to(vpc_id))
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v.first().copied()
    }
}
