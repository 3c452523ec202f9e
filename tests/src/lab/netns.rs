//! RAII network namespaces with unique names (`eplab<pid>-<lab>-<role>`), and the few
//! `ip`/`nft` command helpers the lab runs inside them.
//!
//! A [`Netns`] is created by its constructor and removed by `Drop`: every process still
//! inside it is killed, the namespace is deleted (its veths and nftables tables go with it),
//! and `/etc/netns/<name>/` is removed. `Drop` never panics; failures are printed.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Prefix of every namespace the lab creates.
pub const PREFIX: &str = "eplab";

/// A network namespace owned by the lab, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace `name` (which must start with [`PREFIX`] followed by our pid),
    /// brings its loopback up and disables IPv6 duplicate address detection delays.
    pub fn create(name: &str) -> Result<Self> {
        if name.len() > 64 || !name.starts_with(PREFIX) {
            bail!("lab namespace name {name:?} must start with {PREFIX} and be short");
        }
        run(Command::new("ip").args(["netns", "add", name]))
            .with_context(|| format!("creating network namespace {name}"))?;
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        for (key, value) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.accept_ra", "0"),
            ("net.ipv6.conf.default.accept_ra", "0"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
            ("net.ipv4.conf.all.accept_redirects", "0"),
            ("net.ipv4.conf.default.accept_redirects", "0"),
            ("net.ipv6.conf.all.accept_redirects", "0"),
            ("net.ipv6.conf.default.accept_redirects", "0"),
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.default.rp_filter", "0"),
        ] {
            ns.sysctl(key, value)?;
        }
        Ok(ns)
    }

    /// The namespace's name (for `ip netns exec <name> …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> <args…>`.
    pub fn ip(&self, args: &[&str]) -> Result<()> {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args)).map(|_| ())
    }

    /// Runs `ip -n <ns> -batch -` with one command per line.
    pub fn ip_batch(&self, lines: &str) -> Result<()> {
        run_with_stdin(
            Command::new("ip").args(["-n", &self.name, "-batch", "-"]),
            lines,
        )
        .with_context(|| format!("ip batch in {}:\n{lines}", self.name))
    }

    /// Feeds an nftables script to `nft -f -` inside the namespace.
    pub fn nft(&self, script: &str) -> Result<()> {
        run_with_stdin(
            Command::new("ip").args(["netns", "exec", &self.name, "nft", "-f", "-"]),
            script,
        )
        .with_context(|| format!("nft in {}:\n{script}", self.name))
    }

    /// Writes a sysctl inside the namespace (missing keys are ignored: e.g. bridge sysctls
    /// when `br_netfilter` is not loaded).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        // `ip netns exec` remounts /proc/sys for the namespace.
        let script = format!("[ -e {path} ] && echo {value} > {path} || true");
        run(Command::new("ip").args(["netns", "exec", &self.name, "sh", "-c", &script])).map(|_| ())
    }

    /// A `Command` that runs `program` inside the namespace (`ip netns exec`), which also
    /// bind-mounts `/etc/netns/<ns>/resolv.conf` over `/etc/resolv.conf` when present.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// The per-namespace `/etc/netns/<ns>` directory used by `ip netns exec`.
    pub fn etc_dir(&self) -> PathBuf {
        Path::new("/etc/netns").join(&self.name)
    }

    /// Writes `/etc/netns/<ns>/resolv.conf` (seen as `/etc/resolv.conf` by processes
    /// started with [`Netns::command`]).
    pub fn write_resolv_conf(&self, text: &str) -> Result<PathBuf> {
        let dir = self.etc_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("resolv.conf");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove_namespace(&self.name);
    }
}

/// Kills every process in a namespace, then deletes it and its `/etc/netns` entry.
/// Never panics; failures are reported on stderr.
pub fn remove_namespace(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        let pids = String::from_utf8_lossy(&out.stdout).to_string();
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill")
                .args(["-9", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
    match Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if !out.status.success() => {
            eprintln!(
                "lab: could not delete namespace {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Err(e) => eprintln!("lab: could not run ip netns del {name}: {e}"),
        _ => {}
    }
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(name));
}

/// Removes `eplab<pid>-…` namespaces whose pid is no longer alive (left by a run that was
/// killed). Returns the names removed.
pub fn remove_stale() -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return removed;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() {
            continue;
        }
        if !Path::new("/proc").join(&pid).exists() {
            remove_namespace(name);
            removed.push(name.to_string());
        }
    }
    removed
}

/// Runs a command, failing with its stderr when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {cmd:?}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Removes every namespace this process created (`eplab<our pid>-…`), killing what runs in
/// them. For signal handlers (Ctrl-C in a demo binary), where `Drop` will not run.
pub fn remove_all_of_this_process() -> Vec<String> {
    let mine = format!("{PREFIX}{}-", std::process::id());
    let mut removed = Vec::new();
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return removed;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.split_whitespace().next()
            && name.starts_with(&mine)
        {
            remove_namespace(name);
            removed.push(name.to_string());
        }
    }
    removed
}
