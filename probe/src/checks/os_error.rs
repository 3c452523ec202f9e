//! OS error names (`ETIMEDOUT`, `ECONNREFUSED`, …) and what they say about the path.

use crate::model::Status;
use std::io;

/// The symbolic name of an errno value, when it is one a network check can meet.
pub(super) fn errno_name(code: i32) -> Option<&'static str> {
    let name = match code {
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::ENETDOWN => "ENETDOWN",
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::EPIPE => "EPIPE",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTO => "EPROTO",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EAGAIN => "EAGAIN",
        libc::EINTR => "EINTR",
        _ => return None,
    };
    Some(name)
}

/// Status for an errno: what the kernel's answer means for the network path.
/// A silent drop that the kernel gave up on is `Timeout`; a RST is `Refused`; an ICMP error
/// or a missing local route is `Unreachable`; a torn-down connection is `Reset`. Anything
/// else (local policy `EPERM`/`EACCES`, no ports, no memory) says nothing about the path.
pub(super) fn errno_status(code: i32) -> Status {
    match code {
        libc::ETIMEDOUT => Status::Timeout,
        libc::ECONNREFUSED => Status::Refused,
        libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ENETDOWN => {
            Status::Unreachable
        }
        libc::ECONNRESET | libc::ECONNABORTED | libc::EPIPE => Status::Reset,
        _ => Status::Error,
    }
}

/// Status and OS error name of an I/O error from a socket.
pub(super) fn classify_io(err: &io::Error) -> (Status, Option<String>) {
    if let Some(code) = err.raw_os_error() {
        let name = errno_name(code)
            .map(str::to_string)
            .unwrap_or_else(|| format!("errno {code}"));
        return (errno_status(code), Some(name));
    }
    let status = match err.kind() {
        io::ErrorKind::TimedOut => Status::Timeout,
        io::ErrorKind::ConnectionRefused => Status::Refused,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => Status::Unreachable,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Status::Reset,
        _ => Status::Error,
    };
    (status, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_errno_maps_to_its_name_and_status() {
        let rows = [
            (libc::ETIMEDOUT, "ETIMEDOUT", Status::Timeout),
            (libc::ECONNREFUSED, "ECONNREFUSED", Status::Refused),
            (libc::EHOSTUNREACH, "EHOSTUNREACH", Status::Unreachable),
            (libc::ENETUNREACH, "ENETUNREACH", Status::Unreachable),
            (libc::ECONNRESET, "ECONNRESET", Status::Reset),
            (libc::EACCES, "EACCES", Status::Error),
            (libc::EPERM, "EPERM", Status::Error),
            (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL", Status::Error),
        ];
        for (code, name, status) in rows {
            let err = io::Error::from_raw_os_error(code);
            assert_eq!(
                classify_io(&err),
                (status, Some(name.to_string())),
                "errno {code}"
            );
        }
    }

    #[test]
    fn unknown_errno_keeps_its_number() {
        let err = io::Error::from_raw_os_error(4095);
        assert_eq!(
            classify_io(&err),
            (Status::Error, Some("errno 4095".to_string()))
        );
    }

    #[test]
    fn errors_without_errno_fall_back_to_their_kind() {
        let err = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert_eq!(classify_io(&err), (Status::Reset, None));
        let err = io::Error::other("something");
        assert_eq!(classify_io(&err), (Status::Error, None));
    }
}
