//! A fix as data (issue 11): one structured change to the network, with ONE renderer to
//! the AWS CLI command line and ONE `apply` to a snapshot, so the printed command and what
//! a simulation changes cannot disagree. This first cut covers NACL entries (R20-R22) and
//! DHCP options (R25).

use super::snapshot::{DhcpOptions, NaclEntry, NetworkSnapshot, PortRange, Protocol, RuleAction};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One change to a VPC's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// `create-network-acl-entry`.
    CreateNaclEntry { acl: String, entry: NaclEntry },
    /// `replace-network-acl-entry` (same rule number and direction).
    ReplaceNaclEntry { acl: String, entry: NaclEntry },
    /// `delete-network-acl-entry`.
    DeleteNaclEntry {
        acl: String,
        egress: bool,
        rule_number: i32,
    },
    /// `create-dhcp-options`: a new set (its ID is known only once created).
    CreateDhcpOptions { options: DhcpOptions },
    /// `associate-dhcp-options`. Never `default`: that associates no options and turns DNS
    /// off for the VPC (R25).
    AssociateDhcpOptions { vpc: String, dhcp_options: String },
}

/// A change that cannot be applied to the snapshot, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{0} is not in the snapshot")]
    NotFound(String),
    #[error("{acl} already has {dir} rule {rule}: use replace-network-acl-entry")]
    RuleExists {
        acl: String,
        dir: &'static str,
        rule: i32,
    },
    #[error("{0}")]
    Refused(String),
}

fn dir(egress: bool) -> &'static str {
    if egress { "egress" } else { "ingress" }
}

fn entry_flags(e: &NaclEntry) -> String {
    let cidr_flag = match e.cidr {
        IpNet::V4(_) => "--cidr-block",
        IpNet::V6(_) => "--ipv6-cidr-block",
    };
    let ports = match (e.protocol.0, e.port_range) {
        (6 | 17, Some(p)) => format!(" --port-range From={},To={}", p.from, p.to),
        _ => String::new(),
    };
    let action = match e.action {
        RuleAction::Allow => "allow",
        RuleAction::Deny => "deny",
    };
    format!(
        "--{} --rule-number {} --protocol {}{ports} {cidr_flag} {} --rule-action {action}",
        dir(e.egress),
        e.rule_number,
        e.protocol.name(),
        e.cidr
    )
}

impl Change {
    /// A NACL entry with the fields a fix sets.
    pub fn nacl_entry(
        egress: bool,
        rule_number: i32,
        protocol: Protocol,
        ports: PortRange,
        cidr: IpNet,
        action: RuleAction,
    ) -> NaclEntry {
        NaclEntry {
            rule_number,
            egress,
            protocol,
            action,
            cidr,
            port_range: matches!(protocol.0, 6 | 17).then_some(ports),
            icmp_type_code: None,
        }
    }

    /// The AWS CLI command line (the only renderer).
    pub fn cli(&self) -> String {
        match self {
            Change::CreateNaclEntry { acl, entry } => format!(
                "aws ec2 create-network-acl-entry --network-acl-id {acl} {}",
                entry_flags(entry)
            ),
            Change::ReplaceNaclEntry { acl, entry } => format!(
                "aws ec2 replace-network-acl-entry --network-acl-id {acl} {}",
                entry_flags(entry)
            ),
            Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            } => format!(
                "aws ec2 delete-network-acl-entry --network-acl-id {acl} --{} --rule-number {rule_number}",
                dir(*egress)
            ),
            Change::CreateDhcpOptions { options } => {
                let mut s = String::from("aws ec2 create-dhcp-options --dhcp-configurations");
                if !options.domain_name_servers.is_empty() {
                    s.push_str(&format!(
                        " \"Key=domain-name-servers,Values={}\"",
                        options.domain_name_servers.join(",")
                    ));
                }
                if let Some(d) = &options.domain_name {
                    s.push_str(&format!(" \"Key=domain-name,Values={d}\""));
                }
                s
            }
            Change::AssociateDhcpOptions { vpc, dhcp_options } => format!(
                "aws ec2 associate-dhcp-options --dhcp-options-id {dhcp_options} --vpc-id {vpc}"
            ),
        }
    }

    /// Applies the change to `snap` as AWS would (the only simulator).
    pub fn apply(&self, snap: &mut NetworkSnapshot) -> Result<(), ChangeError> {
        let acl_mut = |snap: &mut NetworkSnapshot, id: &str| {
            snap.network_acls
                .iter_mut()
                .position(|a| a.id == id)
                .ok_or_else(|| ChangeError::NotFound(id.to_string()))
        };
        match self {
            Change::CreateNaclEntry { acl, entry } => {
                let i = acl_mut(snap, acl)?;
                let a = &mut snap.network_acls[i];
                if a.entries
                    .iter()
                    .any(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
                {
                    return Err(ChangeError::RuleExists {
                        acl: acl.clone(),
                        dir: dir(entry.egress),
                        rule: entry.rule_number,
                    });
                }
                a.entries.push(entry.clone());
            }
            Change::ReplaceNaclEntry { acl, entry } => {
                let i = acl_mut(snap, acl)?;
                let a = &mut snap.network_acls[i];
                let Some(e) = a
                    .entries
                    .iter_mut()
                    .find(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
                else {
                    return Err(ChangeError::NotFound(format!(
                        "{acl} {} rule {}",
                        dir(entry.egress),
                        entry.rule_number
                    )));
                };
                *e = entry.clone();
            }
            Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            } => {
                let i = acl_mut(snap, acl)?;
                let a = &mut snap.network_acls[i];
                let before = a.entries.len();
                a.entries
                    .retain(|e| !(e.egress == *egress && e.rule_number == *rule_number));
                if a.entries.len() == before {
                    return Err(ChangeError::NotFound(format!(
                        "{acl} {} rule {rule_number}",
                        dir(*egress)
                    )));
                }
            }
            Change::CreateDhcpOptions { options } => {
                if snap.dhcp_options.iter().any(|o| o.id == options.id) {
                    return Err(ChangeError::Refused(format!("{} exists", options.id)));
                }
                snap.dhcp_options.push(options.clone());
            }
            Change::AssociateDhcpOptions { vpc, dhcp_options } => {
                if dhcp_options != "default"
                    && !snap.dhcp_options.iter().any(|o| &o.id == dhcp_options)
                {
                    return Err(ChangeError::NotFound(dhcp_options.clone()));
                }
                let Some(v) = snap.vpcs.iter_mut().find(|v| &v.id == vpc) else {
                    return Err(ChangeError::NotFound(vpc.clone()));
                };
                v.dhcp_options_id = Some(dhcp_options.clone());
            }
        }
        Ok(())
    }
}

impl Change {
    /// Parses one AWS CLI command line of the NACL kinds this module renders (the
    /// inverse of [`Change::cli`]; a trailing `# comment` is ignored). Errors name what is
    /// wrong.
    pub fn parse_cli(line: &str) -> Result<Change, ChangeError> {
        let line = line.split("  #").next().unwrap_or(line);
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = |why: &str| ChangeError::Refused(format!("{why}: {line}"));
        let (verb, rest) = match words.as_slice() {
            ["aws", "ec2", verb, rest @ ..] => (*verb, rest),
            _ => return Err(bad("not an `aws ec2` command")),
        };
        let flag = |name: &str| -> Option<&str> {
            rest.iter()
                .position(|w| *w == name)
                .and_then(|i| rest.get(i + 1).copied())
        };
        let has = |name: &str| rest.contains(&name);
        let need = |name: &str| flag(name).ok_or_else(|| bad(&format!("{name} missing")));
        let acl = need("--network-acl-id")?.to_string();
        let egress = match (has("--egress"), has("--ingress")) {
            (true, false) => true,
            (false, true) => false,
            _ => return Err(bad("give exactly one of --egress and --ingress")),
        };
        let rule_number: i32 = need("--rule-number")?
            .parse()
            .map_err(|_| bad("--rule-number is not a number"))?;
        if verb == "delete-network-acl-entry" {
            return Ok(Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            });
        }
        let protocol =
            Protocol::parse(need("--protocol")?).ok_or_else(|| bad("--protocol is not known"))?;
        let cidr: IpNet = flag("--cidr-block")
            .or_else(|| flag("--ipv6-cidr-block"))
            .ok_or_else(|| bad("--cidr-block missing"))?
            .parse()
            .map_err(|_| bad("the CIDR is not valid"))?;
        let ports = match flag("--port-range") {
            Some(p) => {
                let (f, t) = p
                    .strip_prefix("From=")
                    .and_then(|p| p.split_once(",To="))
                    .ok_or_else(|| bad("--port-range is not From=N,To=M"))?;
                PortRange {
                    from: f.parse().map_err(|_| bad("bad From port"))?,
                    to: t.parse().map_err(|_| bad("bad To port"))?,
                }
            }
            None => PortRange { from: 0, to: 65535 },
        };
        let action = match need("--rule-action")? {
            "allow" => RuleAction::Allow,
            "deny" => RuleAction::Deny,
            _ => return Err(bad("--rule-action is allow or deny")),
        };
        let entry = Change::nacl_entry(egress, rule_number, protocol, ports, cidr, action);
        match verb {
            "create-network-acl-entry" => Ok(Change::CreateNaclEntry { acl, entry }),
            "replace-network-acl-entry" => Ok(Change::ReplaceNaclEntry { acl, entry }),
            _ => Err(bad("not a NACL entry command")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::NetworkAcl;

    fn snap() -> NetworkSnapshot {
        NetworkSnapshot {
            network_acls: vec![NetworkAcl {
                id: "acl-1".into(),
                vpc_id: "vpc-1".into(),
                is_default: false,
                subnet_ids: vec!["subnet-1".into()],
                entries: vec![Change::nacl_entry(
                    true,
                    100,
                    Protocol::TCP,
                    PortRange { from: 443, to: 443 },
                    "0.0.0.0/0".parse().unwrap(),
                    RuleAction::Deny,
                )],
            }],
            ..Default::default()
        }
    }

    /// The rendered command and the applied change describe the same entry.
    #[test]
    fn nacl_changes_render_and_apply_alike() {
        let entry = Change::nacl_entry(
            false,
            200,
            Protocol::TCP,
            PortRange::EPHEMERAL,
            "198.51.100.10/32".parse().unwrap(),
            RuleAction::Allow,
        );
        let c = Change::CreateNaclEntry {
            acl: "acl-1".into(),
            entry: entry.clone(),
        };
        assert_eq!(
            c.cli(),
            "aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 200 --protocol tcp --port-range From=1024,To=65535 --cidr-block 198.51.100.10/32 --rule-action allow"
        );
        let mut s = snap();
        c.apply(&mut s).unwrap();
        assert!(s.network_acls[0].entries.contains(&entry));
        // Creating the same rule number again fails as AWS does.
        assert!(matches!(
            c.apply(&mut s),
            Err(ChangeError::RuleExists { rule: 200, .. })
        ));
        let d = Change::DeleteNaclEntry {
            acl: "acl-1".into(),
            egress: true,
            rule_number: 100,
        };
        assert_eq!(
            d.cli(),
            "aws ec2 delete-network-acl-entry --network-acl-id acl-1 --egress --rule-number 100"
        );
        // The parser is the renderer's inverse.
        assert_eq!(Change::parse_cli(&c.cli()).unwrap(), c);
        assert_eq!(
            Change::parse_cli(&format!("{}  # why", d.cli())).unwrap(),
            d
        );
        assert!(Change::parse_cli("aws ec2 create-network-acl-entry --egress").is_err());
        d.apply(&mut s).unwrap();
        assert!(!s.network_acls[0].entries.iter().any(|e| e.egress));
        assert!(matches!(d.apply(&mut s), Err(ChangeError::NotFound(_))));
    }

    /// R25: associating a set that is not in the snapshot is refused; a created set can be
    /// associated.
    #[test]
    fn dhcp_changes_render_and_apply_alike() {
        let mut s = snap();
        s.vpcs.push(crate::model::Vpc {
            id: "vpc-1".into(),
            cidr_blocks: vec![],
            ipv6_cidr_blocks: vec![],
            enable_dns_support: Some(true),
            enable_dns_hostnames: Some(true),
            dhcp_options_id: Some("dopt-corp".into()),
            block_public_access_mode: None,
            is_default: false,
            owner_id: None,
        });
        let a = Change::AssociateDhcpOptions {
            vpc: "vpc-1".into(),
            dhcp_options: "dopt-new".into(),
        };
        assert!(matches!(a.apply(&mut s), Err(ChangeError::NotFound(_))));
        let c = Change::CreateDhcpOptions {
            options: DhcpOptions {
                id: "dopt-new".into(),
                domain_name_servers: vec!["AmazonProvidedDNS".into()],
                domain_name: Some("corp.example".into()),
            },
        };
        assert_eq!(
            c.cli(),
            "aws ec2 create-dhcp-options --dhcp-configurations \"Key=domain-name-servers,Values=AmazonProvidedDNS\" \"Key=domain-name,Values=corp.example\""
        );
        c.apply(&mut s).unwrap();
        a.apply(&mut s).unwrap();
        assert_eq!(s.vpcs[0].dhcp_options_id.as_deref(), Some("dopt-new"));
        assert_eq!(
            a.cli(),
            "aws ec2 associate-dhcp-options --dhcp-options-id dopt-new --vpc-id vpc-1"
        );
    }
}
