//! TCP: a connect to every resolved address (IPv4 and IPv6 reported apart), concurrently.
//! Always direct: `HTTPS_PROXY` does not apply to TCP checks.

use super::bound::Bound;
use super::dns::{Resolution, Want, resolve};
use super::os_error::classify_io;
use super::{Checker, Failure, Timeouts, apply_failure, ms_between, observation};
use crate::model::{CheckKind, Family, Observation, Phase, Status, Target};
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The TCP check of a `tcp://host:port` target: one observation per resolved address, or
/// one for the DNS failure.
pub(super) async fn check(
    checker: &Checker,
    target: &Target,
    host: &str,
    port: u16,
    timeouts: Timeouts,
    deadline: Instant,
) -> Vec<Observation> {
    let start = Instant::now();
    let dns_bound = Bound::new(start, timeouts.dns, deadline);
    let (addrs, dns_ms) = match resolve(checker, host, dns_bound, Want::All).await {
        Resolution::Addresses { addrs, dns_ms } => (addrs, dns_ms),
        Resolution::Failed {
            failure,
            detail,
            dns_ms,
        } => {
            let mut obs = observation(CheckKind::Tcp, target, target.to_string());
            obs.timeout_ms = dns_bound.ms_from(start);
            obs.phases.dns_ms = Some(dns_ms);
            obs.phases.total_ms = ms_between(start, Instant::now());
            obs.dns = detail;
            apply_failure(&mut obs, failure);
            return vec![obs];
        }
    };
    let connect_start = Instant::now();
    let bound = Bound::new(connect_start, timeouts.connect, deadline);
    let attempts = addrs.iter().map(|ip| async move {
        let mut obs = observation(CheckKind::Tcp, target, format!("{target}@{ip}"));
        obs.address = Some(*ip);
        obs.family = Some(Family::of(ip));
        obs.timeout_ms = bound.ms_from(connect_start);
        obs.phases.dns_ms = dns_ms;
        let result = connect(SocketAddr::new(*ip, port), bound).await;
        let end = Instant::now();
        obs.phases.total_ms = ms_between(start, end);
        match result {
            Ok((_stream, connect_ms)) => obs.phases.connect_ms = Some(connect_ms),
            Err(failure) => {
                // The connect phase was reached: its time is the wait until it failed.
                obs.phases.connect_ms = Some(ms_between(connect_start, end));
                apply_failure(&mut obs, failure);
            }
        }
        obs
    });
    futures_util::future::join_all(attempts).await
}

/// Opens a TCP connection to `addr` within `bound`; the connect time in ms on success.
pub(super) async fn connect(addr: SocketAddr, bound: Bound) -> Result<(TcpStream, f64), Failure> {
    let start = Instant::now();
    match tokio::time::timeout_at(bound.end, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            // Small requests: do not wait for more data before sending.
            let _ = stream.set_nodelay(true);
            Ok((stream, ms_between(start, Instant::now())))
        }
        Ok(Err(err)) => Err(connect_failure(&err, addr.ip())),
        Err(_elapsed) => Err(bound.expired(Phase::Connect, start, Status::Timeout)),
    }
}

/// The failure of a connect that the OS ended with `err`.
fn connect_failure(err: &std::io::Error, ip: IpAddr) -> Failure {
    let (status, os_error) = classify_io(err);
    let detail = match status {
        Status::Timeout => {
            format!("the kernel gave up connecting to {ip}: no answer (silent drop)")
        }
        Status::Refused => format!("{ip} refused the connection (RST): the path works"),
        Status::Unreachable => format!("{ip} is unreachable: {err}"),
        Status::Reset => format!("the connection to {ip} was reset: {err}"),
        _ => format!("connect to {ip} failed: {err}"),
    };
    Failure::new(status, Phase::Connect, detail).with_os_error(os_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_timeout_keeps_etimedout() {
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let f = connect_failure(&std::io::Error::from_raw_os_error(libc::ETIMEDOUT), ip);
        assert_eq!(f.status, Status::Timeout);
        assert_eq!(f.os_error.as_deref(), Some("ETIMEDOUT"));
        assert_eq!(f.phase, Phase::Connect);
    }

    #[test]
    fn unreachable_network_is_unreachable() {
        let ip: IpAddr = "2001:db8::1".parse().expect("ip");
        let f = connect_failure(&std::io::Error::from_raw_os_error(libc::ENETUNREACH), ip);
        assert_eq!(f.status, Status::Unreachable);
        assert_eq!(f.os_error.as_deref(), Some("ENETUNREACH"));
    }
}
