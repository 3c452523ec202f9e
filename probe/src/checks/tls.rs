//! TLS: the rustls client configuration (webpki roots + an optional extra PEM CA bundle,
//! built on first HTTPS use) and the classification of handshake failures.

use super::CheckSetupError;
use super::os_error::classify_io;
use crate::model::Status;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// Reads and checks the extra CA bundle: every certificate must parse as a trust anchor and
/// there must be at least one. Cheap (no built-in roots involved), so it runs at setup to
/// fail early with the file's name.
pub(super) fn load_extra_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, CheckSetupError> {
    let data = super::read_capped(path, super::MAX_CA_BUNDLE_BYTES).map_err(|source| {
        CheckSetupError::CaBundle {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let invalid = |reason: String| CheckSetupError::CaBundleInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not a PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no `BEGIN CERTIFICATE` section found".to_string()));
    }
    let mut probe_store = RootCertStore::empty();
    let (valid, bad) = probe_store.add_parsable_certificates(certs.iter().cloned());
    if bad > 0 || valid == 0 {
        return Err(invalid(format!(
            "{bad} of {} certificates cannot be used as a trust anchor",
            certs.len()
        )));
    }
    Ok(certs)
}

/// The client configuration: TLS 1.2/1.3 with ring, webpki roots plus `extra`, ALPN http/1.1.
pub(super) fn client_config(
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    roots.add_parsable_certificates(extra.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub(super) fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Classifies a TLS failure: certificate problems, alerts from the server, other TLS errors,
/// and transport errors (reset, EOF) under the handshake.
pub(super) fn classify(err: &std::io::Error) -> (Status, Option<String>, String) {
    if let Some(tls) = rustls_error(err) {
        let (status, detail) = classify_rustls(tls);
        return (status, None, detail);
    }
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        return (
            Status::TlsError,
            None,
            "the server closed the connection during the TLS handshake".to_string(),
        );
    }
    let (status, os_error) = classify_io(err);
    (
        status,
        os_error,
        format!("TLS handshake transport error: {err}"),
    )
}

pub(super) fn classify_rustls(err: &rustls::Error) -> (Status, String) {
    match err {
        rustls::Error::InvalidCertificate(cert) => (
            Status::TlsCertificate,
            format!("certificate rejected: {}", cert_reason(cert)),
        ),
        rustls::Error::AlertReceived(alert) => (
            Status::TlsAlert,
            format!("the server sent the TLS alert {alert:?}: the path works"),
        ),
        other => (Status::TlsError, format!("TLS error: {other}")),
    }
}

fn cert_reason(err: &CertificateError) -> String {
    match err {
        CertificateError::UnknownIssuer => {
            "unknown issuer (add the CA with the extra CA bundle if TLS inspection is expected)"
                .to_string()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "expired".to_string()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "not valid for this host name".to_string()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::AlertDescription;
    use std::io::Write;

    fn io(err: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }

    #[test]
    fn certificate_errors_are_tls_certificate() {
        for cert in [
            CertificateError::UnknownIssuer,
            CertificateError::Expired,
            CertificateError::NotValidForName,
        ] {
            let (status, _, _) = classify(&io(rustls::Error::InvalidCertificate(cert)));
            assert_eq!(status, Status::TlsCertificate);
        }
    }

    #[test]
    fn alerts_are_tls_alert() {
        let (status, _, detail) = classify(&io(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        )));
        assert_eq!(status, Status::TlsAlert);
        assert!(detail.contains("HandshakeFailure"), "{detail}");
    }

    #[test]
    fn other_tls_errors_are_tls_error() {
        let (status, _, _) = classify(&io(rustls::Error::DecryptError));
        assert_eq!(status, Status::TlsError);
    }

    #[test]
    fn reset_under_the_handshake_keeps_the_os_error() {
        let (status, os_error, _) = classify(&std::io::Error::from_raw_os_error(libc::ECONNRESET));
        assert_eq!(status, Status::Reset);
        assert_eq!(os_error.as_deref(), Some("ECONNRESET"));
    }

    #[test]
    fn missing_bundle_names_the_file() {
        let err = load_extra_ca(Path::new("/nonexistent/ca.pem")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn empty_and_garbage_bundles_are_rejected_with_the_file_name() {
        for content in ["", "hello, not a certificate\n"] {
            let mut file = tempfile::NamedTempFile::new().expect("tempfile");
            file.write_all(content.as_bytes()).expect("write");
            let err = load_extra_ca(file.path()).expect_err("invalid");
            assert!(
                matches!(err, CheckSetupError::CaBundleInvalid { .. }),
                "{err}"
            );
            assert!(err.to_string().contains(&file.path().display().to_string()));
        }
    }

    #[test]
    fn a_pem_section_that_is_not_a_certificate_is_rejected() {
        let mut file = tempfile::NamedTempFile::new().expect("tempfile");
        file.write_all(b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n")
            .expect("write");
        let err = load_extra_ca(file.path()).expect_err("invalid");
        assert!(
            matches!(err, CheckSetupError::CaBundleInvalid { .. }),
            "{err}"
        );
    }

    #[test]
    fn an_endless_bundle_is_refused_after_the_cap() {
        // /dev/zero never ends: the read stops after MAX_CA_BUNDLE_BYTES + 1 bytes.
        let err = load_extra_ca(Path::new("/dev/zero")).expect_err("endless file");
        assert!(matches!(err, CheckSetupError::CaBundle { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("/dev/zero"), "{text}");
        assert!(text.contains("larger than 4194304 bytes"), "{text}");
        assert!(text.contains("EGRESS_PROBE_EXTRA_CA_FILE"), "{text}");
    }

    #[test]
    fn webpki_roots_config_builds() {
        assert!(client_config(&[]).is_ok());
    }
}
