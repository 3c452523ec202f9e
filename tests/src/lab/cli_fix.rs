//! Issue 11's proof in the VPC lab: the fix command lines `egress-probe diagnose` prints,
//! run as they are by the real AWS CLI (`awscli` from PyPI, installed into `.venv` by
//! scripts/setup.sh) against the lab's EC2 API (moto).
//!
//! The printed lines are meant for a shell, but this runs no shell: each line is split
//! into words by a POSIX shell-words splitter ([`shlex`]) and only the three constructs
//! the renderer (`Change::cli`) emits are interpreted:
//!
//! * `NAME=$(aws … --query Q --output text)`: a created resource's ID captured into a
//!   variable (the whole line);
//! * `"$NAME"`: that variable, as a whole word;
//! * `"$(aws …)"`: a command substitution as a whole word (a look-up such as the
//!   association ID `replace-route-table-association` needs).
//!
//! Anything else a shell would interpret (`|`, `;`, `&&`, redirections, a `$` elsewhere)
//! is an error naming the line, so a printed fix that only a shell could run fails the
//! test instead of passing by luck. The program of every command must be `aws`; it is
//! replaced by the venv's `aws`, run with a clean environment (static test credentials,
//! no config files, no pager) and the lab's endpoint.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// One AWS CLI call is given this long (moto answers in milliseconds).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One `aws` invocation and what it returned.
#[derive(Debug, Clone)]
pub struct CliCall {
    /// The argv after `aws` (the program itself left out).
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The real AWS CLI, pointed at one endpoint.
#[derive(Debug)]
pub struct AwsCli {
    exe: PathBuf,
    endpoint: String,
    home: PathBuf,
    /// Every call made so far, in order.
    pub calls: Vec<CliCall>,
}

/// `$EGRESS_PROBE_AWS_CLI`, else `<workspace>/.venv/bin/aws`; an error saying how to get
/// it (the suite never skips for a missing CLI).
pub fn aws_cli_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("EGRESS_PROBE_AWS_CLI").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let venv = crate::moto::workspace_root().join(".venv/bin/aws");
    if venv.is_file() {
        return Ok(venv);
    }
    bail!(
        "{} not found: run scripts/setup.sh (it installs awscli from requirements-dev.txt into .venv) or set EGRESS_PROBE_AWS_CLI",
        venv.display()
    )
}

/// `NAME=$(…)` as the whole line: (NAME, the command inside).
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once('=')?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let inner = rest.strip_prefix("$(")?.strip_suffix(')')?;
    Some((name, inner))
}

/// Words a shell would treat as operators: not supported here.
fn is_operator(word: &str) -> bool {
    matches!(
        word,
        "|" | "||" | "&" | "&&" | ";" | ";;" | "<" | ">" | ">>" | "2>" | "2>&1" | "(" | ")"
    )
}

impl AwsCli {
    /// The CLI from [`aws_cli_path`] for `endpoint` (the lab's moto).
    pub fn new(endpoint: &str) -> Result<Self> {
        let exe = aws_cli_path()?;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let home = std::env::temp_dir().join(format!("eplab-awscli-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        Ok(AwsCli {
            exe,
            endpoint: endpoint.to_string(),
            home,
            calls: Vec::new(),
        })
    }

    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Runs one printed line (see the module doc). `vars` holds the IDs earlier lines of
    /// the same fix captured. Fails when the CLI exits non-zero, naming the line and its
    /// error output.
    pub async fn run_line(
        &mut self,
        line: &str,
        vars: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let line = line.trim();
        if let Some((name, inner)) = assignment(line) {
            let words = shlex::split(inner)
                .with_context(|| format!("`{line}`: not splittable into shell words"))?;
            let id = self.capture(words, vars, line).await?;
            vars.insert(name.to_string(), id);
            return Ok(());
        }
        let words = shlex::split(line)
            .with_context(|| format!("`{line}`: not splittable into shell words"))?;
        let call = self.run_words(words, vars, line).await?;
        if call.code != 0 {
            bail!(
                "the AWS CLI refused `{line}` (exit {}): {}",
                call.code,
                call.stderr.trim()
            );
        }
        Ok(())
    }

    /// Runs a command whose output is an ID (`--output text`): the trimmed output, which
    /// must be one non-empty word (not `None`, what `--output text` prints for nothing).
    async fn capture(
        &mut self,
        words: Vec<String>,
        vars: &BTreeMap<String, String>,
        line: &str,
    ) -> Result<String> {
        let call = Box::pin(self.run_words(words, vars, line)).await?;
        if call.code != 0 {
            bail!(
                "the AWS CLI refused a command of `{line}` (exit {}): {}",
                call.code,
                call.stderr.trim()
            );
        }
        let out = call.stdout.trim().to_string();
        if out.is_empty() || out == "None" || out.split_whitespace().count() != 1 {
            bail!("`{line}`: a command substitution printed {out:?}, not one ID");
        }
        Ok(out)
    }

    /// Expands `$NAME` and `$(…)` words, then runs the command (`aws` only).
    async fn run_words(
        &mut self,
        words: Vec<String>,
        vars: &BTreeMap<String, String>,
        line: &str,
    ) -> Result<CliCall> {
        let mut argv = Vec::with_capacity(words.len());
        for w in words {
            if is_operator(&w) {
                bail!(
                    "`{line}`: the shell operator `{w}` needs a shell; a fix must be one command"
                );
            }
            if let Some(inner) = w.strip_prefix("$(").and_then(|r| r.strip_suffix(')')) {
                let inner_words = shlex::split(inner)
                    .with_context(|| format!("`{line}`: `{w}` is not splittable"))?;
                argv.push(self.capture(inner_words, vars, line).await?);
            } else if let Some(name) = w.strip_prefix('$') {
                match vars.get(name) {
                    Some(v) => argv.push(v.clone()),
                    None => bail!("`{line}`: ${name} was not set by an earlier line of the fix"),
                }
            } else if w.contains('$') {
                bail!("`{line}`: `{w}` needs shell expansion this runner does not do");
            } else {
                argv.push(w);
            }
        }
        match argv.first().map(String::as_str) {
            Some("aws") => {}
            other => bail!("`{line}`: runs {other:?}, not the AWS CLI"),
        }
        let args: Vec<String> = argv[1..].to_vec();
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", crate::moto::REGION)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_PAGER", "")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.exe.display()))?;
        let out = tokio::time::timeout(CALL_TIMEOUT, child.wait_with_output())
            .await
            .with_context(|| {
                format!("`{line}`: the AWS CLI did not answer within {CALL_TIMEOUT:?}")
            })?
            .with_context(|| format!("waiting for {}", self.exe.display()))?;
        let call = CliCall {
            args,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.calls.push(call.clone());
        Ok(call)
    }
}

impl Drop for AwsCli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The real `egress-probe diagnose` with JSON output, against `endpoint`: (exit code, the
/// parsed JSON). Exit codes 0, 1 and 3 carry a result; anything else is an error with the
/// command's error output.
pub async fn diagnose_json(
    bin: &Path,
    endpoint: &str,
    args: &[String],
) -> Result<(i32, serde_json::Value)> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["--output", "json", "--max-attempts", "1", "diagnose"])
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", crate::moto::REGION)
        .env("AWS_DEFAULT_REGION", crate::moto::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .context("egress-probe diagnose did not finish within 120 s")?
        .context("waiting for egress-probe diagnose")?;
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !matches!(code, 0 | 1 | 3) {
        bail!("egress-probe diagnose {args:?} exited {code}: {stderr}");
    }
    let json = serde_json::from_slice(&out.stdout).with_context(|| {
        format!("egress-probe diagnose printed no JSON (exit {code}): {stderr}")
    })?;
    Ok((code, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_the_whole_line() {
        assert_eq!(
            assignment(
                "RTB_NEW=$(aws ec2 create-route-table --vpc-id vpc-1 --query RouteTable.RouteTableId --output text)"
            ),
            Some((
                "RTB_NEW",
                "aws ec2 create-route-table --vpc-id vpc-1 --query RouteTable.RouteTableId --output text"
            ))
        );
        assert_eq!(assignment("aws ec2 create-route --route-table-id x"), None);
        assert_eq!(assignment("lower=$(aws x)"), None);
    }

    #[test]
    fn quoted_substitution_stays_one_word() {
        let words = shlex::split(
            "aws ec2 replace-route-table-association --association-id \"$(aws ec2 describe-route-tables --query 'A[?S==`s-1`].I' --output text)\" --route-table-id \"$RTB_NEW\"",
        )
        .unwrap_or_default();
        assert_eq!(words.len(), 7, "{words:?}");
        assert_eq!(
            words[4],
            "$(aws ec2 describe-route-tables --query 'A[?S==`s-1`].I' --output text)"
        );
        assert_eq!(words[6], "$RTB_NEW");
        assert!(!is_operator(&words[4]));
        assert!(is_operator("&&"));
    }
}
