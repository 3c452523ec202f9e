//! DNS: A and AAAA asked concurrently of the resolv.conf servers, each answer classified
//! (NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout). Also the address lookup of TCP and
//! HTTPS checks. Every hickory type stays inside `checks/`.

use super::bound::Bound;
use super::os_error::classify_io;
use super::{Checker, Failure, Timeouts, apply_failure, ms_between, observation};
use crate::model::{CheckKind, DnsDetail, DnsRecordResult, Observation, Phase, Status, Target};
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use std::net::IpAddr;
use tokio::time::Instant;

/// One record-type answer and the OS error behind it, if any.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub result: DnsRecordResult,
    pub os_error: Option<String>,
}

/// The DNS check of a `dns:name` target.
pub(super) async fn check(
    checker: &Checker,
    target: &Target,
    name: &str,
    timeouts: Timeouts,
    deadline: Instant,
) -> Observation {
    let start = Instant::now();
    let bound = Bound::new(start, timeouts.dns, deadline);
    let mut obs = observation(CheckKind::Dns, target, target.to_string());
    obs.timeout_ms = bound.ms_from(start);
    let setup = checker.resolver_setup();
    let Some(resolver) = setup.resolver(false) else {
        apply_failure(
            &mut obs,
            Failure::new(Status::Error, Phase::Dns, setup.unavailable_reason()),
        );
        obs.phases.total_ms = ms_between(start, Instant::now());
        return obs;
    };
    let (a, aaaa) = tokio::join!(
        query(&resolver, name, RecordType::A, bound),
        query(&resolver, name, RecordType::AAAA, bound),
    );
    let end = Instant::now();
    obs.phases.dns_ms = Some(a.result.ms.max(aaaa.result.ms));
    obs.phases.total_ms = ms_between(start, end);
    if let Some(failure) = failure_of(&a, &aaaa) {
        apply_failure(&mut obs, failure);
    }
    obs.dns = Some(DnsDetail {
        a: a.result,
        aaaa: aaaa.result,
        servers: setup.info.servers.clone(),
    });
    obs
}

/// Outcome of the address lookup of a TCP or HTTPS check.
pub(super) enum Resolution {
    Addresses {
        addrs: Vec<IpAddr>,
        /// `None` when the host is an IP literal (no DNS phase).
        dns_ms: Option<f64>,
    },
    Failed {
        failure: Failure,
        detail: Option<DnsDetail>,
        dns_ms: f64,
    },
}

/// Which addresses a TCP or HTTPS check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// Every address of both families (TCP connects to each).
    All,
    /// The IPv4 addresses when there are any, else the IPv6 ones (HTTPS uses the first).
    PreferIpv4,
}

/// Resolves `host` (IP literals skip DNS) within `bound`.
pub(super) async fn resolve(checker: &Checker, host: &str, bound: Bound, want: Want) -> Resolution {
    if let Ok(ip) = super::bare_host(host).parse::<IpAddr>() {
        return Resolution::Addresses {
            addrs: vec![ip],
            dns_ms: None,
        };
    }
    let start = Instant::now();
    let setup = checker.resolver_setup();
    let Some(resolver) = setup.resolver(true) else {
        return Resolution::Failed {
            failure: Failure::new(Status::Error, Phase::Dns, setup.unavailable_reason()),
            detail: None,
            dns_ms: 0.0,
        };
    };
    let a_fut = query(&resolver, host, RecordType::A, bound);
    let aaaa_fut = query(&resolver, host, RecordType::AAAA, bound);
    let (a, aaaa) = match want {
        Want::All => {
            let (a, aaaa) = tokio::join!(a_fut, aaaa_fut);
            (a, Some(aaaa))
        }
        Want::PreferIpv4 => {
            tokio::pin!(a_fut, aaaa_fut);
            let mut a: Option<Answer> = None;
            let mut aaaa: Option<Answer> = None;
            loop {
                tokio::select! {
                    r = &mut a_fut, if a.is_none() => a = Some(r),
                    r = &mut aaaa_fut, if aaaa.is_none() => aaaa = Some(r),
                }
                match (&a, &aaaa) {
                    (Some(ans), _) if !ans.result.addresses.is_empty() => break,
                    (Some(_), Some(_)) => break,
                    _ => {}
                }
            }
            match a {
                Some(a) => (a, aaaa),
                // Unreachable by the loop's exit conditions; answer as a timeout would.
                None => (expired_answer(bound, start, Instant::now()), aaaa),
            }
        }
    };
    let dns_ms = ms_between(start, Instant::now());
    let mut addrs: Vec<IpAddr> = a.result.addresses.clone();
    if let Some(aaaa) = aaaa
        .as_ref()
        .filter(|_| addrs.is_empty() || want == Want::All)
    {
        addrs.extend(aaaa.result.addresses.iter().copied());
    }
    if !addrs.is_empty() {
        return Resolution::Addresses {
            addrs,
            dns_ms: Some(dns_ms),
        };
    }
    let aaaa = aaaa.unwrap_or_else(|| expired_answer(bound, start, Instant::now()));
    let failure = failure_of(&a, &aaaa).unwrap_or_else(|| {
        Failure::new(Status::DnsNodata, Phase::Dns, "no addresses in the answers")
    });
    Resolution::Failed {
        failure,
        detail: Some(DnsDetail {
            a: a.result,
            aaaa: aaaa.result,
            servers: setup.info.servers.clone(),
        }),
        dns_ms,
    }
}

fn expired_answer(bound: Bound, start: Instant, now: Instant) -> Answer {
    let f = bound.expired(Phase::Dns, start, Status::DnsTimeout);
    Answer {
        result: DnsRecordResult {
            status: f.status,
            addresses: Vec::new(),
            ms: ms_between(start, now),
            detail: Some(f.detail),
        },
        os_error: f.os_error,
    }
}

/// One query of one record type, bounded by `bound`.
pub(super) async fn query(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
    bound: Bound,
) -> Answer {
    let start = Instant::now();
    let res = tokio::time::timeout_at(bound.end, resolver.lookup(name, rtype)).await;
    let ms = ms_between(start, Instant::now());
    match res {
        Err(_elapsed) => {
            let f = bound.expired(Phase::Dns, start, Status::DnsTimeout);
            Answer {
                result: DnsRecordResult {
                    status: f.status,
                    addresses: Vec::new(),
                    ms,
                    detail: Some(f.detail),
                },
                os_error: f.os_error,
            }
        }
        Ok(Ok(lookup)) => {
            let addresses: Vec<IpAddr> = lookup
                .iter()
                .filter_map(|rdata| match rdata {
                    RData::A(a) if rtype == RecordType::A => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) if rtype == RecordType::AAAA => Some(IpAddr::V6(a.0)),
                    _ => None,
                })
                .collect();
            if addresses.is_empty() {
                // e.g. only a CNAME chain that ends nowhere: NoError without records.
                return Answer {
                    result: DnsRecordResult {
                        status: Status::DnsNodata,
                        addresses,
                        ms,
                        detail: Some(format!("NODATA: the answer holds no {rtype} record")),
                    },
                    os_error: None,
                };
            }
            Answer {
                result: DnsRecordResult {
                    status: Status::Ok,
                    addresses,
                    ms,
                    detail: None,
                },
                os_error: None,
            }
        }
        Ok(Err(err)) => {
            let (status, os_error, detail) = classify(&err, rtype);
            Answer {
                result: DnsRecordResult {
                    status,
                    addresses: Vec::new(),
                    ms,
                    detail: Some(detail),
                },
                os_error,
            }
        }
    }
}

/// The check's failure, or `None` when A or AAAA gave addresses. Otherwise the A answer's
/// class decides, except that a NODATA for A defers to the AAAA class (NODATA when both
/// are NODATA): "the name exists but has no IPv4" says less than the AAAA failure.
pub(super) fn failure_of(a: &Answer, aaaa: &Answer) -> Option<Failure> {
    if !a.result.addresses.is_empty() || !aaaa.result.addresses.is_empty() {
        return None;
    }
    if a.result.status == Status::DnsNodata && aaaa.result.status == Status::DnsNodata {
        // Neither record type: say so, not "no AAAA record" (which suggests IPv4 works).
        return Some(Failure::new(
            Status::DnsNodata,
            Phase::Dns,
            "NODATA: the name exists but has neither an A nor an AAAA record",
        ));
    }
    let decisive = if a.result.status == Status::DnsNodata {
        aaaa
    } else {
        a
    };
    let status = match decisive.result.status {
        Status::Ok => Status::DnsNodata,
        s => s,
    };
    let detail = decisive
        .result
        .detail
        .clone()
        .unwrap_or_else(|| "no addresses".to_string());
    Some(Failure::new(status, Phase::Dns, detail).with_os_error(decisive.os_error.clone()))
}

/// Classifies a hickory lookup error. In hickory 0.25, SERVFAIL and REFUSED answers arrive
/// as `NoRecordsFound { response_code, .. }` just like NXDOMAIN and NODATA, so the class comes
/// from `response_code` alone (see STYLE.md "DNS classification").
pub(super) fn classify(err: &ResolveError, rtype: RecordType) -> (Status, Option<String>, String) {
    let Some(proto) = err.proto() else {
        return (Status::Error, None, format!("resolver error: {err}"));
    };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => {
            let (status, text) = classify_rcode(*response_code, rtype);
            (status, None, text)
        }
        ProtoErrorKind::Timeout => (
            Status::DnsTimeout,
            // Every timeout carries ETIMEDOUT (README), whichever timer saw it.
            Some("ETIMEDOUT".to_string()),
            "the name servers did not answer (resolver timeout from resolv.conf options)"
                .to_string(),
        ),
        ProtoErrorKind::Io(io) => {
            let (status, os_error) = classify_io(io);
            let status = match status {
                Status::Timeout => Status::DnsTimeout,
                s => s,
            };
            (
                status,
                os_error,
                format!("query to the name server failed: {io}"),
            )
        }
        ProtoErrorKind::NoConnections => (
            Status::Error,
            None,
            "no connection to any name server could be made".to_string(),
        ),
        _ => (Status::Error, None, format!("DNS error: {proto}")),
    }
}

/// Status of a negative answer by its response code.
pub(super) fn classify_rcode(code: ResponseCode, rtype: RecordType) -> (Status, String) {
    match code {
        ResponseCode::NXDomain => (
            Status::DnsNxdomain,
            "NXDOMAIN: the name does not exist".to_string(),
        ),
        ResponseCode::NoError => (
            Status::DnsNodata,
            format!("NODATA: the name exists but has no {rtype} record"),
        ),
        ResponseCode::ServFail => (
            Status::DnsServfail,
            "SERVFAIL: the name server failed to resolve the name".to_string(),
        ),
        ResponseCode::Refused => (
            Status::DnsRefused,
            "REFUSED: the name server refused the query".to_string(),
        ),
        other => (
            Status::DnsServfail,
            format!("the name server answered {other} ({})", u16::from(other)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::Name;
    use hickory_resolver::proto::ProtoError;
    use hickory_resolver::proto::op::Query;
    use std::str::FromStr;

    fn no_records(code: ResponseCode) -> ResolveError {
        let query = Query::query(Name::from_str("example.com.").expect("name"), RecordType::A);
        ResolveError::from(ProtoError::from(ProtoErrorKind::NoRecordsFound {
            query: Box::new(query),
            soa: None,
            ns: None,
            negative_ttl: None,
            response_code: code,
            trusted: false,
            authorities: None,
        }))
    }

    fn status_of(err: &ResolveError) -> Status {
        classify(err, RecordType::A).0
    }

    #[test]
    fn nxdomain_row() {
        assert_eq!(
            status_of(&no_records(ResponseCode::NXDomain)),
            Status::DnsNxdomain
        );
    }

    #[test]
    fn noerror_without_records_is_nodata_row() {
        assert_eq!(
            status_of(&no_records(ResponseCode::NoError)),
            Status::DnsNodata
        );
    }

    #[test]
    fn servfail_row_is_not_mistaken_for_no_records() {
        let err = no_records(ResponseCode::ServFail);
        // The trap: hickory says "no records found" for a SERVFAIL.
        assert!(err.is_no_records_found());
        assert_eq!(status_of(&err), Status::DnsServfail);
    }

    #[test]
    fn refused_row() {
        assert_eq!(
            status_of(&no_records(ResponseCode::Refused)),
            Status::DnsRefused
        );
    }

    #[test]
    fn other_rcode_row_counts_as_server_failure() {
        let (status, _, detail) = classify(&no_records(ResponseCode::NotImp), RecordType::A);
        assert_eq!(status, Status::DnsServfail);
        assert!(detail.contains("4"), "{detail}");
    }

    #[test]
    fn resolver_timeout_row() {
        let err = ResolveError::from(ProtoError::from(ProtoErrorKind::Timeout));
        let (status, os_error, _) = classify(&err, RecordType::A);
        assert_eq!(status, Status::DnsTimeout);
        assert_eq!(os_error.as_deref(), Some("ETIMEDOUT"));
    }

    #[test]
    fn io_error_row_keeps_the_os_error() {
        let io = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let err = ResolveError::from(ProtoError::from(io));
        let (status, os_error, _) = classify(&err, RecordType::A);
        assert_eq!(status, Status::Refused);
        assert_eq!(os_error.as_deref(), Some("ECONNREFUSED"));
    }

    fn answer(status: Status, addresses: Vec<IpAddr>) -> Answer {
        Answer {
            result: DnsRecordResult {
                status,
                addresses,
                ms: 1.0,
                detail: Some(status.to_string()),
            },
            os_error: None,
        }
    }

    #[test]
    fn overall_is_ok_when_either_family_has_addresses() {
        let v6: IpAddr = "2001:db8::1".parse().expect("ip");
        let a = answer(Status::DnsNodata, vec![]);
        let aaaa = answer(Status::Ok, vec![v6]);
        assert_eq!(failure_of(&a, &aaaa), None);
    }

    #[test]
    fn overall_takes_the_a_class() {
        let a = answer(Status::DnsServfail, vec![]);
        let aaaa = answer(Status::DnsNodata, vec![]);
        let f = failure_of(&a, &aaaa).expect("failure");
        assert_eq!(f.status, Status::DnsServfail);
        assert_eq!(f.phase, Phase::Dns);
    }

    #[test]
    fn overall_nodata_when_both_nodata() {
        let f = failure_of(
            &answer(Status::DnsNodata, vec![]),
            &answer(Status::DnsNodata, vec![]),
        )
        .expect("failure");
        assert_eq!(f.status, Status::DnsNodata);
        assert_eq!(
            f.detail,
            "NODATA: the name exists but has neither an A nor an AAAA record"
        );
        assert!(!f.detail.contains("no AAAA"), "{}", f.detail);
    }

    #[test]
    fn a_nodata_with_an_aaaa_failure_keeps_the_aaaa_detail() {
        let mut a = answer(Status::DnsNodata, vec![]);
        a.result.detail = Some("NODATA: the name exists but has no A record".into());
        let mut aaaa = answer(Status::DnsServfail, vec![]);
        aaaa.result.detail = Some("SERVFAIL".into());
        let f = failure_of(&a, &aaaa).expect("failure");
        assert_eq!(f.detail, "SERVFAIL");
    }

    #[test]
    fn overall_a_nodata_defers_to_aaaa_failure() {
        let f = failure_of(
            &answer(Status::DnsNodata, vec![]),
            &answer(Status::DnsTimeout, vec![]),
        )
        .expect("failure");
        assert_eq!(f.status, Status::DnsTimeout);
    }
}
