//! VPC Block Public Access (R17): whether traffic through an internet gateway or an
//! egress-only internet gateway is blocked, and never "assumed off" silently.

use super::index::Index;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The source subnet routes straight to an internet gateway.
    InternetGateway,
    /// Egress-only internet gateway (IPv6).
    EgressOnly,
    /// A NAT gateway's traffic to its internet gateway.
    NatGateway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BpaOutcome {
    Pass(String),
    Block {
        mode: String,
        exclusions_allowed: Option<String>,
    },
    /// Could not be read: the caller records an info finding; the path is not failed for it.
    Unknown(String),
}

/// Accepts the current values and the early SDK spellings (R17).
fn normalise(mode: &str) -> &str {
    match mode {
        "bidirectional-access-allowed" => "off",
        "bidirectional-access-blocked" => "block-bidirectional",
        "ingress-access-blocked" => "block-ingress",
        other => other,
    }
}

fn exclusion_active(state: Option<&str>) -> bool {
    match state {
        None => true,
        Some(s) => matches!(
            s,
            "create-complete" | "update-complete" | "update-in-progress"
        ),
    }
}

fn decide(mode: &str, via: Via, excluded: Option<&str>, allowed: Option<String>) -> BpaOutcome {
    match (normalise(mode), via) {
        ("off", _) => BpaOutcome::Pass("Block Public Access off".into()),
        (m, _) if excluded.is_some() => BpaOutcome::Pass(format!(
            "Block Public Access {m}, excluded by {}",
            excluded.unwrap_or_default()
        )),
        ("block-ingress", Via::NatGateway | Via::EgressOnly) => BpaOutcome::Pass(
            "Block Public Access block-ingress allows NAT gateway and egress-only IGW traffic"
                .into(),
        ),
        (m, _) => BpaOutcome::Block {
            mode: m.to_string(),
            exclusions_allowed: allowed,
        },
    }
}

/// R17 for traffic of `gateway_subnet` (or the whole `vpc_id`, regional NAT) through `via`.
pub(crate) fn check(
    ix: &Index<'_>,
    via: Via,
    gateway_subnet: Option<&str>,
    vpc_id: &str,
) -> BpaOutcome {
    if let Some(bpa) = &ix.snap.block_public_access {
        let excluded = bpa
            .exclusions
            .iter()
            .filter(|e| exclusion_active(e.state.as_deref()))
            .filter(|e| matches!(e.mode.as_str(), "allow-bidirectional" | "allow-egress"))
            .find(|e| Some(e.resource_id.as_str()) == gateway_subnet || e.resource_id == vpc_id)
            .map(|e| e.id.as_str());
        return decide(
            &bpa.internet_gateway_block_mode,
            via,
            excluded,
            bpa.exclusions_allowed.clone(),
        );
    }
    // Fall back on the per-resource state DescribeSubnets/DescribeVpcs report.
    let subnet_mode = gateway_subnet
        .and_then(|s| ix.subnet(s))
        .and_then(|s| s.block_public_access_mode.as_deref());
    let vpc_mode = ix
        .vpc(vpc_id)
        .and_then(|v| v.block_public_access_mode.as_deref());
    if let Some(mode) = subnet_mode.or(vpc_mode) {
        return decide(mode, via, None, None);
    }
    let reason = ix
        .gap("DescribeVpcBlockPublicAccessOptions")
        .map(|g| g.reason.clone())
        .unwrap_or_else(|| "not in the snapshot".into());
    BpaOutcome::Unknown(reason)
}
