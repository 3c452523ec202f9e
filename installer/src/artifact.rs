//! The probe's code: the bootstrap zip made by `cargo lambda build`, its architecture
//! (from the ELF header of `bootstrap`) and the code hash Lambda reports
//! (`CodeSha256` = base64(sha256(zip bytes))).

use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where `cargo lambda build` puts the probe's zip, relative to a target directory.
pub const ZIP_IN_TARGET: &str = "lambda/egress-probe-lambda/bootstrap.zip";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    Arm64,
    X86_64,
}

impl Arch {
    /// The Lambda `Architectures` value.
    pub fn as_lambda(&self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(
        "no bootstrap zip found (looked for {looked}); build it with `cargo lambda build --release --arm64 --output-format zip -p egress-probe` or pass --zip PATH"
    )]
    NotFound { looked: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a zip file: {reason}")]
    NotZip { path: PathBuf, reason: String },
    #[error(
        "{path} has no `bootstrap` file at its root: pass the zip made by `cargo lambda build`"
    )]
    NoBootstrap { path: PathBuf },
    #[error("`bootstrap` in {path} is not a Linux ELF executable for arm64 or x86_64 ({reason})")]
    BadElf { path: PathBuf, reason: String },
}

/// A loaded bootstrap zip.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub arch: Arch,
    /// base64(sha256(bytes)), comparable with Lambda's `CodeSha256`.
    pub code_sha256: String,
}

/// Finds the zip: the given path, else `$CARGO_TARGET_DIR/lambda/…`, else `target/lambda/…`
/// in the current directory or any parent.
pub fn locate(given: Option<&Path>) -> Result<PathBuf, ArtifactError> {
    if let Some(p) = given {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(ArtifactError::NotFound {
            looked: p.display().to_string(),
        });
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join(ZIP_IN_TARGET));
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            candidates.push(dir.join("target").join(ZIP_IN_TARGET));
        }
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| ArtifactError::NotFound {
            looked: candidates
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| format!("target/{ZIP_IN_TARGET}")),
        })
}

/// Loads and checks a zip.
pub fn load(path: &Path) -> Result<Artifact, ArtifactError> {
    let bytes = std::fs::read(path).map_err(|source| ArtifactError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let arch = arch_of_zip(&bytes, path)?;
    Ok(Artifact {
        path: path.to_path_buf(),
        code_sha256: code_sha256(&bytes),
        bytes,
        arch,
    })
}

/// base64(sha256(bytes)), as Lambda's `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn arch_of_zip(bytes: &[u8], path: &Path) -> Result<Arch, ArtifactError> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| ArtifactError::NotZip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let mut file = archive
        .by_name("bootstrap")
        .map_err(|_| ArtifactError::NoBootstrap {
            path: path.to_path_buf(),
        })?;
    let mut header = Vec::with_capacity(20);
    (&mut file)
        .take(20)
        .read_to_end(&mut header)
        .map_err(|e| ArtifactError::NotZip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    elf_arch(&header).map_err(|reason| ArtifactError::BadElf {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads the machine of a 64-bit little-endian ELF header (e_machine at offset 18).
pub fn elf_arch(header: &[u8]) -> Result<Arch, String> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return Err("no ELF magic".into());
    }
    if header[4] != 2 {
        return Err("not a 64-bit ELF".into());
    }
    if header[5] != 1 {
        return Err("not little-endian".into());
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        183 => Ok(Arch::Arm64),
        62 => Ok(Arch::X86_64),
        other => Err(format!("machine {other}")),
    }
}

/// A minimal ELF header for tests and fixtures: 64-bit, little-endian, the given machine.
pub fn fake_elf_header(arch: Arch) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    let machine: u16 = match arch {
        Arch::Arm64 => 183,
        Arch::X86_64 => 62,
    };
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h
}

/// Builds a zip holding one `bootstrap` file (tests and benchmarks).
pub fn zip_with_bootstrap(bootstrap: &[u8]) -> Result<Vec<u8>, zip::result::ZipError> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        w.start_file("bootstrap", options)?;
        w.write_all(bootstrap)?;
        w.finish()?;
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_architecture_from_the_elf_header() {
        assert_eq!(elf_arch(&fake_elf_header(Arch::Arm64)), Ok(Arch::Arm64));
        assert_eq!(elf_arch(&fake_elf_header(Arch::X86_64)), Ok(Arch::X86_64));
        assert!(elf_arch(b"#!/bin/sh\necho hi\n\n\n").is_err());
        let mut h = fake_elf_header(Arch::Arm64);
        h[4] = 1;
        assert_eq!(elf_arch(&h), Err("not a 64-bit ELF".into()));
    }

    #[test]
    fn loads_a_zip_and_hashes_like_lambda() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap.zip");
        let bytes = zip_with_bootstrap(&fake_elf_header(Arch::Arm64)).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let a = load(&path).unwrap();
        assert_eq!(a.arch, Arch::Arm64);
        // sha256 of the bytes, base64 (44 characters, '=' padded).
        assert_eq!(a.code_sha256.len(), 44);
        assert_eq!(a.code_sha256, code_sha256(&bytes));
        // Known vector: sha256("") = e3b0c442…, base64 below.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn names_what_is_wrong_with_a_bad_zip() {
        let dir = tempfile::tempdir().unwrap();
        let not_zip = dir.path().join("a.zip");
        std::fs::write(&not_zip, b"hello").unwrap();
        assert!(matches!(load(&not_zip), Err(ArtifactError::NotZip { .. })));
        let missing = dir.path().join("missing.zip");
        let err = locate(Some(&missing)).unwrap_err();
        assert!(err.to_string().contains("missing.zip"), "{err}");
        assert!(err.to_string().contains("--zip"), "{err}");
    }
}
