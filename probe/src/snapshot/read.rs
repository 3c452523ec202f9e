//! The calls: one identifying call per scope, then per VPC two concurrent stages of
//! filtered, paginated Describe calls. Every page request is counted; every failure after
//! the identifying call becomes a `SnapshotGap`, and so does a call still unanswered when
//! the reader's deadline comes (issue 12.7: one slow call is a gap, not a lost snapshot).

use super::call::*;
use super::classify::{self, HasStatus};
use super::convert::{self, Notes};
use super::{Clients, SnapshotError};
use crate::model::{GapKind, NetworkSnapshot, SnapshotGap};
use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::operation::describe_vpc_attribute::DescribeVpcAttributeOutput;
use aws_sdk_ec2::operation::describe_vpc_block_public_access_options::DescribeVpcBlockPublicAccessOptionsOutput;
use aws_sdk_ec2::types::{self as ec2, Filter, VpcAttributeName};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::time::Instant;

/// The workload account's clients, the request counter (every request of the snapshot,
/// in any account, is counted here) and the time limit.
pub struct Reader<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub lambda: &'a aws_sdk_lambda::Client,
    calls: AtomicU32,
    /// No request is waited for past this instant (`None`: the SDK's own timeouts only).
    deadline: Option<Instant>,
    /// An earlier end for the current stage (see `limit_stage`), inside `deadline`.
    stage_end: Mutex<Option<Instant>>,
    began: Instant,
}

impl<'a> Reader<'a> {
    /// A reader that abandons any request still unanswered at `deadline`.
    pub fn until(clients: &'a Clients, deadline: Option<Instant>) -> Self {
        Self {
            ec2: &clients.ec2,
            lambda: &clients.lambda,
            calls: AtomicU32::new(0),
            deadline,
            stage_end: Mutex::new(None),
            began: Instant::now(),
        }
    }
    pub(super) fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Lets the requests that start from now on use `share` of the time left (stage 1
    /// keeps time for stage 2); `None` gives them the whole of it again.
    pub fn limit_stage(&self, share: Option<f64>) {
        let end = match (self.deadline, share) {
            (Some(deadline), Some(share)) => {
                let now = Instant::now();
                Some(now + deadline.saturating_duration_since(now).mul_f64(share))
            }
            _ => None,
        };
        if let Ok(mut slot) = self.stage_end.lock() {
            *slot = end;
        }
    }

    /// When the reader began (for the gap text of an abandoned call).
    pub(super) fn began(&self) -> Instant {
        self.began
    }

    /// Counts `n` requests made on the reader's behalf (by a spawned task).
    pub(super) fn count_n(&self, n: u32) {
        self.calls.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn end(&self) -> Option<Instant> {
        let stage = self.stage_end.lock().ok().and_then(|s| *s);
        stage.or(self.deadline)
    }

    /// Waits for `request` until the stage's end; a request still unanswered then is the
    /// gap of `call` (kind `Unreachable`: no answer), like a denied one.
    pub async fn bounded<F: Future>(
        &self,
        call: &str,
        request: F,
    ) -> Result<F::Output, SnapshotGap> {
        let Some(end) = self.end() else {
            return Ok(request.await);
        };
        match tokio::time::timeout_at(end, request).await {
            Ok(out) => Ok(out),
            Err(_elapsed) => Err(SnapshotGap {
                call: call.to_string(),
                kind: GapKind::Unreachable,
                reason: format!(
                    "no answer within the time the analysis had left ({} ms after it began); the call was abandoned",
                    end.saturating_duration_since(self.began).as_millis()
                ),
                account: None,
            }),
        }
    }
}

/// All pages of a paginated call, each page counted; the first failing page is the gap, and
/// so is a page still unanswered at the reader's deadline.
macro_rules! pages {
    ($r:expr, $call:expr, $builder:expr, $field:ident) => {{
        let mut stream = $builder.into_paginator().send();
        let mut items = Vec::new();
        let mut failed: Option<$crate::model::SnapshotGap> = None;
        loop {
            let page = match $r.bounded($call, stream.next()).await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(gap) => {
                    $r.count();
                    failed = Some(gap);
                    break;
                }
            };
            $r.count();
            match page {
                Ok(page) => items.extend(page.$field.unwrap_or_default()),
                Err(err) => {
                    failed = Some($crate::snapshot::classify::gap($call, &err));
                    break;
                }
            }
        }
        match failed {
            Some(gap) => Err(gap),
            None => Ok(items),
        }
    }};
}

/// One counted request, bounded by the reader's deadline.
pub(super) async fn once<T, E, R>(
    r: &Reader<'_>,
    call: &str,
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, SnapshotGap>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    r.count();
    r.bounded(call, request)
        .await?
        .map_err(|err| classify::gap(call, &err))
}

pub fn filter<I, S>(name: &str, values: I) -> Filter
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

const NOT_FOUND_SUFFIXES: &[&str] = &[".NotFound", ".Malformed"];

fn is_not_found(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        NOT_FOUND_SUFFIXES.iter().any(|s| c.ends_with(s)) || c == "ResourceNotFoundException"
    })
}

fn api_error<E, R>(call: &str, err: &SdkError<E, R>) -> SnapshotError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    SnapshotError::Api {
        call: call.to_string(),
        reason: classify::reason(err),
    }
}

/// An identifying call that did not answer in time stops the snapshot: nothing answered.
fn gap_error(gap: SnapshotGap) -> SnapshotError {
    SnapshotError::Api {
        call: gap.call,
        reason: gap.reason,
    }
}

/// Scope::Vpc's identifying call: DescribeVpcs by ID (unknown → `VpcNotFound`).
pub async fn identify_vpc(r: &Reader<'_>, vpc_id: &str) -> Result<ec2::Vpc, SnapshotError> {
    r.count();
    let out = r
        .bounded(DESCRIBE_VPCS, r.ec2.describe_vpcs().vpc_ids(vpc_id).send())
        .await
        .map_err(gap_error)?
        .map_err(|err| {
            if is_not_found(err.code()) {
                SnapshotError::VpcNotFound(vpc_id.to_string())
            } else {
                api_error(DESCRIBE_VPCS, &err)
            }
        })?;
    out.vpcs
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.vpc_id() == Some(vpc_id))
        .ok_or_else(|| SnapshotError::VpcNotFound(vpc_id.to_string()))
}

/// Subnets by ID through the `subnet-id` filter, which answers the known ones and never
/// fails on unknown ones (so the caller can name exactly which are missing).
pub async fn subnets_by_id(
    r: &Reader<'_>,
    ids: &[String],
) -> Result<Vec<ec2::Subnet>, (SnapshotGap, Option<String>)> {
    let mut stream = r
        .ec2
        .describe_subnets()
        .filters(filter("subnet-id", ids.iter().cloned()))
        .into_paginator()
        .send();
    let mut items = Vec::new();
    loop {
        let page = match r.bounded(DESCRIBE_SUBNETS, stream.next()).await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(gap) => {
                r.count();
                return Err((gap, None));
            }
        };
        r.count();
        match page {
            Ok(page) => items.extend(page.subnets.unwrap_or_default()),
            Err(err) => {
                let code = err.code().map(str::to_string);
                return Err((classify::gap(DESCRIBE_SUBNETS, &err), code));
            }
        }
    }
    Ok(items)
}

/// Scope::Subnets' identifying call: every ID must exist.
pub async fn identify_subnets(
    r: &Reader<'_>,
    ids: &[String],
) -> Result<Vec<ec2::Subnet>, SnapshotError> {
    let Some(first) = ids.first() else {
        return Err(SnapshotError::SubnetNotFound("(no subnet ID given)".into()));
    };
    let found = subnets_by_id(r, ids).await.map_err(|(gap, code)| {
        if is_not_found(code.as_deref()) {
            SnapshotError::SubnetNotFound(first.clone())
        } else {
            SnapshotError::Api {
                call: gap.call,
                reason: gap.reason,
            }
        }
    })?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !found.iter().any(|s| s.subnet_id() == Some(id.as_str())))
    {
        return Err(SnapshotError::SubnetNotFound(missing.clone()));
    }
    Ok(found)
}

/// Scope::Function's identifying call.
pub async fn identify_function(
    r: &Reader<'_>,
    name: &str,
) -> Result<
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
    SnapshotError,
> {
    r.count();
    r.bounded(
        GET_FUNCTION_CONFIGURATION,
        r.lambda
            .get_function_configuration()
            .function_name(name)
            .send(),
    )
    .await
    .map_err(gap_error)?
    .map_err(|err| {
        if err
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
            || is_not_found(err.code())
        {
            SnapshotError::FunctionNotFound(name.to_string())
        } else {
            api_error(GET_FUNCTION_CONFIGURATION, &err)
        }
    })
}

/// Which Lambda ENIs to ask for (R3: interface type, subnet and groups — never the
/// description).
#[derive(Debug, Default, Clone)]
pub struct EniScope {
    pub subnet_ids: Vec<String>,
    pub group_ids: Vec<String>,
}

/// Stores a call's converted items, or its gap.
fn put<S, M>(
    result: Result<Vec<S>, SnapshotGap>,
    out: &mut Vec<M>,
    gaps: &mut Vec<SnapshotGap>,
    mut conv: impl FnMut(&S) -> Option<M>,
) {
    match result {
        Ok(items) => out.extend(items.iter().filter_map(&mut conv)),
        Err(gap) => gaps.push(gap),
    }
}

/// How one VPC is read: with which EC2 client, which Lambda ENIs (none for a VPC behind a
/// transit gateway), whether the account-wide BPA options are still needed.
pub struct VpcRequest<'c> {
    pub ec2: &'c aws_sdk_ec2::Client,
    pub vpc_id: String,
    /// The VPC when the identifying call already read it.
    pub known: Option<ec2::Vpc>,
    /// `None`: no Lambda ENIs are asked for (an egress VPC has none).
    pub enis: Option<EniScope>,
    pub need_bpa: bool,
}

/// The raw answers of stage 1 for one VPC.
#[derive(Clone)]
pub struct VpcRaw {
    vpc_id: String,
    vpcs: Result<Vec<ec2::Vpc>, SnapshotGap>,
    dns_support: Result<DescribeVpcAttributeOutput, SnapshotGap>,
    dns_hostnames: Result<DescribeVpcAttributeOutput, SnapshotGap>,
    subnets: Result<Vec<ec2::Subnet>, SnapshotGap>,
    route_tables: Result<Vec<ec2::RouteTable>, SnapshotGap>,
    nat_gateways: Result<Vec<ec2::NatGateway>, SnapshotGap>,
    igws: Result<Vec<ec2::InternetGateway>, SnapshotGap>,
    eigws: Result<Vec<ec2::EgressOnlyInternetGateway>, SnapshotGap>,
    nacls: Result<Vec<ec2::NetworkAcl>, SnapshotGap>,
    sgs: Result<Vec<ec2::SecurityGroup>, SnapshotGap>,
    endpoints: Result<Vec<ec2::VpcEndpoint>, SnapshotGap>,
    bpa: Option<Result<DescribeVpcBlockPublicAccessOptionsOutput, SnapshotGap>>,
    lambda_enis: Option<Result<Vec<ec2::NetworkInterface>, SnapshotGap>>,
}

/// Stage 1 of one VPC: everything keyed by the VPC ID, concurrently (12 calls, +1 for
/// Lambda ENIs, +1 for the BPA options, +1 for DescribeVpcs when not known).
pub async fn fetch_vpc(r: &Reader<'_>, req: VpcRequest<'_>) -> VpcRaw {
    let VpcRequest {
        ec2: client,
        vpc_id,
        known,
        enis,
        need_bpa,
    } = req;
    let vpc_id = vpc_id.as_str();
    let by_vpc = || filter("vpc-id", [vpc_id]);
    let eni_request = enis.map(|enis| {
        let mut req = client
            .describe_network_interfaces()
            .filters(filter("interface-type", ["lambda"]))
            .filters(by_vpc());
        if !enis.subnet_ids.is_empty() {
            req = req.filters(filter("subnet-id", enis.subnet_ids.iter().cloned()));
        }
        if !enis.group_ids.is_empty() {
            req = req.filters(filter("group-id", enis.group_ids.iter().cloned()));
        }
        req
    });

    // Stage 1: everything keyed by the VPC ID, concurrently, in two thirds of the time
    // left, so that one slow call still leaves stage 2 its turn.
    r.limit_stage(Some(2.0 / 3.0));
    let (
        vpcs,
        dns_support,
        dns_hostnames,
        subnets,
        route_tables,
        nat_gateways,
        igws,
        eigws,
        nacls,
        sgs,
        endpoints,
        bpa,
        lambda_enis,
    ) = tokio::join!(
        async {
            match known {
                Some(v) => Ok(vec![v]),
                None => pages!(
                    r,
                    DESCRIBE_VPCS,
                    client.describe_vpcs().filters(filter("vpc-id", [vpc_id])),
                    vpcs
                ),
            }
        },
        once(
            r,
            DESCRIBE_VPC_ATTRIBUTE,
            client
                .describe_vpc_attribute()
                .vpc_id(vpc_id)
                .attribute(VpcAttributeName::EnableDnsSupport)
                .send()
        ),
        once(
            r,
            DESCRIBE_VPC_ATTRIBUTE,
            client
                .describe_vpc_attribute()
                .vpc_id(vpc_id)
                .attribute(VpcAttributeName::EnableDnsHostnames)
                .send()
        ),
        async {
            pages!(
                r,
                DESCRIBE_SUBNETS,
                client.describe_subnets().filters(by_vpc()),
                subnets
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_ROUTE_TABLES,
                client.describe_route_tables().filters(by_vpc()),
                route_tables
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_NAT_GATEWAYS,
                client.describe_nat_gateways().filter(by_vpc()),
                nat_gateways
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_INTERNET_GATEWAYS,
                client
                    .describe_internet_gateways()
                    .filters(filter("attachment.vpc-id", [vpc_id])),
                internet_gateways
            )
        },
        // No VPC filter exists for egress-only IGWs in every SDK: filter client-side.
        async {
            pages!(
                r,
                DESCRIBE_EGRESS_ONLY_INTERNET_GATEWAYS,
                client.describe_egress_only_internet_gateways(),
                egress_only_internet_gateways
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_NETWORK_ACLS,
                client.describe_network_acls().filters(by_vpc()),
                network_acls
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_SECURITY_GROUPS,
                client.describe_security_groups().filters(by_vpc()),
                security_groups
            )
        },
        async {
            pages!(
                r,
                DESCRIBE_VPC_ENDPOINTS,
                client.describe_vpc_endpoints().filters(by_vpc()),
                vpc_endpoints
            )
        },
        async {
            if need_bpa {
                Some(
                    once(
                        r,
                        DESCRIBE_BPA_OPTIONS,
                        client.describe_vpc_block_public_access_options().send(),
                    )
                    .await,
                )
            } else {
                None
            }
        },
        async {
            match eni_request {
                Some(req) => Some(pages!(
                    r,
                    DESCRIBE_NETWORK_INTERFACES,
                    req,
                    network_interfaces
                )),
                None => None,
            }
        },
    );
    r.limit_stage(None);
    VpcRaw {
        vpc_id: vpc_id.to_string(),
        vpcs,
        dns_support,
        dns_hostnames,
        subnets,
        route_tables,
        nat_gateways,
        igws,
        eigws,
        nacls,
        sgs,
        endpoints,
        bpa,
        lambda_enis,
    }
}

impl VpcRaw {
    pub fn vpc_id(&self) -> &str {
        &self.vpc_id
    }
}

/// Stores stage 1 of one VPC in the snapshot.
pub fn merge_vpc(raw: VpcRaw, snap: &mut NetworkSnapshot) {
    let VpcRaw {
        vpc_id,
        vpcs,
        dns_support,
        dns_hostnames,
        subnets,
        route_tables,
        nat_gateways,
        igws,
        eigws,
        nacls,
        sgs,
        endpoints,
        bpa,
        lambda_enis,
    } = raw;
    let vpc_id = vpc_id.as_str();
    let NetworkSnapshot {
        vpcs: out_vpcs,
        subnets: out_subnets,
        route_tables: out_rts,
        nat_gateways: out_nats,
        internet_gateways: out_igws,
        egress_only_internet_gateways: out_eigws,
        network_acls: out_nacls,
        security_groups: out_sgs,
        vpc_endpoints: out_endpoints,
        network_interfaces: out_enis,
        dns: out_dns,
        gaps,
        notes,
        ..
    } = snap;
    let first_vpc = out_vpcs.len();
    put(vpcs, out_vpcs, gaps, |v| convert::vpc(v, notes));
    // R25: DescribeVpcs says `default` for a VPC associated with *no* DHCP options (AWS
    // gives every new VPC the Region's AmazonProvidedDNS set, `dopt-…`): no DNS server is
    // handed out at all.
    for v in &out_vpcs[first_vpc..] {
        if v.dhcp_options_id.as_deref() == Some("default")
            && !out_dns.no_dhcp_options.contains(&v.id)
        {
            out_dns.no_dhcp_options.push(v.id.clone());
        }
    }
    if let Some(vpc) = out_vpcs[first_vpc..].iter_mut().find(|v| v.id == vpc_id) {
        match dns_support {
            Ok(out) => {
                vpc.enable_dns_support = out.enable_dns_support.and_then(|a| a.value);
            }
            Err(gap) => gaps.push(gap),
        }
        match dns_hostnames {
            Ok(out) => {
                vpc.enable_dns_hostnames = out.enable_dns_hostnames.and_then(|a| a.value);
            }
            Err(gap) => gaps.push(gap),
        }
    } else {
        for gap in [dns_support.err(), dns_hostnames.err()]
            .into_iter()
            .flatten()
        {
            gaps.push(gap);
        }
    }
    put(subnets, out_subnets, gaps, |s| convert::subnet(s, notes));
    put(route_tables, out_rts, gaps, |t| {
        convert::route_table(t, notes)
    });
    put(nat_gateways, out_nats, gaps, |n| {
        convert::nat_gateway(n, notes)
    });
    put(igws, out_igws, gaps, convert::internet_gateway);
    let eigws = eigws.map(|list| {
        list.into_iter()
            .filter(|g| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)))
            .collect::<Vec<_>>()
    });
    put(
        eigws,
        out_eigws,
        gaps,
        convert::egress_only_internet_gateway,
    );
    put(nacls, out_nacls, gaps, |a| convert::network_acl(a, notes));
    put(sgs, out_sgs, gaps, |g| convert::security_group(g, notes));
    put(endpoints, out_endpoints, gaps, convert::vpc_endpoint);
    if let Some(lambda_enis) = lambda_enis {
        put(lambda_enis, out_enis, gaps, |n| {
            convert::network_interface(n, notes)
        });
    }
    match bpa {
        Some(Ok(out)) => {
            snap.block_public_access = Some(
                out.vpc_block_public_access_options
                    .as_ref()
                    .map(convert::block_public_access)
                    .unwrap_or_else(|| {
                        convert::block_public_access(
                            &ec2::VpcBlockPublicAccessOptions::builder().build(),
                        )
                    }),
            );
        }
        Some(Err(gap)) => snap.gaps.push(gap),
        None => {}
    }
}

/// What stage 2 of a VPC needs, decided from the snapshot after stage 1: the VPC's DHCP
/// options (skipped for `default`), prefix lists referenced by its routes and rules, BPA
/// exclusions (only when BPA is on), and AZ IDs (only when a subnet lacks one).
pub struct StageTwo<'c> {
    pub ec2: &'c aws_sdk_ec2::Client,
    dhcp_id: Option<String>,
    prefix_lists: Vec<String>,
    need_exclusions: bool,
    need_zones: bool,
}

impl StageTwo<'_> {
    pub fn prefix_lists(&self) -> &[String] {
        &self.prefix_lists
    }
    pub fn is_empty(&self) -> bool {
        self.dhcp_id.is_none()
            && self.prefix_lists.is_empty()
            && !self.need_exclusions
            && !self.need_zones
    }
}

/// Plans stage 2 for `vpc_id`. `workload`: the VPC the subject stands in (DHCP options,
/// BPA exclusions and the AZ map are about it); a VPC behind a transit gateway only needs
/// the prefix lists its own routes and rules name (read in its own account).
pub fn plan_stage_two<'c>(
    ec2: &'c aws_sdk_ec2::Client,
    vpc_id: &str,
    workload: bool,
    asked: &[String],
    snap: &NetworkSnapshot,
) -> StageTwo<'c> {
    let dhcp_id = snap
        .vpc(vpc_id)
        .and_then(|v| v.dhcp_options_id.clone())
        .filter(|id| id != "default" && !snap.dhcp_options.iter().any(|d| &d.id == id))
        .filter(|_| workload);
    let prefix_lists: Vec<String> = convert::referenced_prefix_lists(snap, Some(vpc_id))
        .into_iter()
        .filter(|id| snap.prefix_list(id).is_none() && !asked.contains(id))
        .collect();
    let need_exclusions = workload
        && snap
            .block_public_access
            .as_ref()
            .is_some_and(|b| b.internet_gateway_block_mode != "off" && b.exclusions.is_empty())
        && snap.gap(DESCRIBE_BPA_EXCLUSIONS).is_none();
    let zones = convert::zones_from_subnets(&snap.subnets);
    let need_zones = workload && zones.is_none() && snap.gap(DESCRIBE_AVAILABILITY_ZONES).is_none();
    StageTwo {
        ec2,
        dhcp_id,
        prefix_lists,
        need_exclusions,
        need_zones,
    }
}

/// The raw answers of stage 2.
#[derive(Clone)]
pub struct StageTwoRaw {
    dhcp: Option<Result<Vec<ec2::DhcpOptions>, SnapshotGap>>,
    pl_names: Option<Result<Vec<ec2::ManagedPrefixList>, SnapshotGap>>,
    pl_entries: Vec<(String, Result<Vec<ec2::PrefixListEntry>, SnapshotGap>)>,
    exclusions: Option<Result<Vec<ec2::VpcBlockPublicAccessExclusion>, SnapshotGap>>,
    azs: Option<Result<DescribeAvailabilityZonesOutput, SnapshotGap>>,
}

/// Stage 2 of one VPC, concurrently (the prefix lists' entries one list after another).
pub async fn fetch_stage_two(r: &Reader<'_>, plan: StageTwo<'_>) -> StageTwoRaw {
    let StageTwo {
        ec2: client,
        dhcp_id,
        prefix_lists,
        need_exclusions,
        need_zones,
    } = plan;
    let (dhcp, pl_names, pl_entries, exclusions, azs) = tokio::join!(
        async {
            match &dhcp_id {
                Some(id) => Some(pages!(
                    r,
                    DESCRIBE_DHCP_OPTIONS,
                    client.describe_dhcp_options().dhcp_options_ids(id),
                    dhcp_options
                )),
                None => None,
            }
        },
        async {
            if prefix_lists.is_empty() {
                return None;
            }
            Some(pages!(
                r,
                DESCRIBE_MANAGED_PREFIX_LISTS,
                client
                    .describe_managed_prefix_lists()
                    .filters(filter("prefix-list-id", prefix_lists.iter().cloned())),
                prefix_lists
            ))
        },
        async {
            let mut all = Vec::new();
            for id in &prefix_lists {
                let entries: Result<Vec<ec2::PrefixListEntry>, SnapshotGap> = pages!(
                    r,
                    GET_MANAGED_PREFIX_LIST_ENTRIES,
                    client.get_managed_prefix_list_entries().prefix_list_id(id),
                    entries
                );
                all.push((id.clone(), entries));
            }
            all
        },
        async {
            if !need_exclusions {
                return None;
            }
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = once(
                    r,
                    DESCRIBE_BPA_EXCLUSIONS,
                    client
                        .describe_vpc_block_public_access_exclusions()
                        .set_next_token(token.clone())
                        .send(),
                )
                .await;
                match page {
                    Ok(out) => {
                        items.extend(out.vpc_block_public_access_exclusions.unwrap_or_default());
                        token = out.next_token.filter(|t| !t.is_empty());
                        if token.is_none() {
                            break Some(Ok(items));
                        }
                    }
                    Err(gap) => break Some(Err(gap)),
                }
            }
        },
        async {
            if need_zones {
                Some(
                    once(
                        r,
                        DESCRIBE_AVAILABILITY_ZONES,
                        client.describe_availability_zones().send(),
                    )
                    .await,
                )
            } else {
                None
            }
        },
    );
    StageTwoRaw {
        dhcp,
        pl_names,
        pl_entries,
        exclusions,
        azs,
    }
}

/// Stores stage 2 in the snapshot.
pub fn merge_stage_two(raw: StageTwoRaw, snap: &mut NetworkSnapshot) {
    let StageTwoRaw {
        dhcp,
        pl_names,
        pl_entries,
        exclusions,
        azs,
    } = raw;
    let notes: &mut Notes = &mut snap.notes;
    if let Some(result) = dhcp {
        put(
            result,
            &mut snap.dhcp_options,
            &mut snap.gaps,
            convert::dhcp_options,
        );
    }
    let names: Vec<ec2::ManagedPrefixList> = match pl_names {
        Some(Ok(list)) => list,
        Some(Err(gap)) => {
            snap.gaps.push(gap);
            Vec::new()
        }
        None => Vec::new(),
    };
    for (id, entries) in pl_entries {
        match entries {
            Ok(entries) => {
                let name = names
                    .iter()
                    .find(|p| p.prefix_list_id() == Some(id.as_str()))
                    .and_then(|p| p.prefix_list_name().map(str::to_string));
                snap.prefix_lists
                    .push(convert::prefix_list(&id, name, &entries, notes));
            }
            Err(gap) => snap.gaps.push(gap),
        }
    }
    match exclusions {
        Some(Ok(list)) => {
            if let Some(bpa) = snap.block_public_access.as_mut() {
                bpa.exclusions
                    .extend(list.iter().filter_map(convert::bpa_exclusion));
            }
        }
        Some(Err(gap)) => snap.gaps.push(gap),
        None => {}
    }
    match azs {
        Some(Ok(out)) => {
            snap.availability_zones = out
                .availability_zones()
                .iter()
                .filter_map(convert::availability_zone)
                .collect();
        }
        Some(Err(gap)) => snap.gaps.push(gap),
        None => {
            if let Some(zones) = convert::zones_from_subnets(&snap.subnets) {
                for z in zones {
                    if !snap.availability_zones.iter().any(|x| x.name == z.name) {
                        snap.availability_zones.push(z);
                    }
                }
            }
        }
    }
}
