#!/usr/bin/env python3
"""Runs every test suite of the workspace (the test binaries `cargo test --workspace`
builds, plus the documentation tests), several suites side by side, and reports each
suite's time.

Why not `cargo test --workspace`: it runs the suites one after another, and the slow ones
(the VPC lab, moto) spend most of their time waiting on timeouts, not on the CPU. The suites
share no state (each lab uses namespaces named after its own process id, each moto server a
free loopback port), so they can run at the same time.

- Jobs: `EGRESS_PROBE_SUITE_JOBS` suites at a time (default: the number of cores, at least
  2), but at most one VPC lab suite (`lab_*`) at a time: two labs at once on 2 cores made
  the lab's timing-sensitive checks flaky. Each suite runs its own tests with cargo's
  default number of threads.
- Order: slowest first, by the times of the previous run kept in
  `$CARGO_TARGET_DIR/suite-times.json` (unknown suites first, the end-to-end ones before
  the others), so the long ones do not end up last.
- Bounds: a suite that runs longer than `EGRESS_PROBE_SUITE_TIMEOUT` seconds (default
  1800) is stopped (its whole process group) and counts as failed; Ctrl-C or SIGTERM stops
  every running suite.
- Output: one line per finished suite (time, result, name); the log of every failed suite
  at the end; the suites, slowest first, with their times. Exit code 0 when every suite
  passed, 1 otherwise, 2 when the build failed.

Arguments after `--` are passed to every test binary (e.g. `-- --test-threads 1`).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def build() -> list[dict]:
    """Builds the test binaries (the same command as scripts/common.sh's TEST_BUILD) and
    returns one entry per binary: package, kind, name, executable, package directory."""
    cmd = ["cargo", "test", "--workspace", "--no-run", "--message-format", "json-render-diagnostics"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"run_suites: `{' '.join(cmd)}` failed (exit {proc.returncode})", file=sys.stderr)
        sys.exit(2)
    suites = []
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        package = msg["package_id"]
        manifest = Path(msg["manifest_path"])
        # `path+file:///…/probe#egress-probe@0.1.0` or `…#0.1.0`: the name is the
        # manifest's package, read from the target's crate name where the id has none.
        name = package.split("#")[-1].split("@")[0] if "@" in package else manifest.parent.name
        suites.append(
            {
                "id": f"{name}::{target['name']}" + ("" if target["kind"] != ["lib"] else " (unit)"),
                "package": name,
                "executable": msg["executable"],
                "dir": str(manifest.parent),
            }
        )
    return suites


class Runner:
    def __init__(self, suites, jobs, timeout, extra):
        self.queue = list(suites)
        self.jobs = jobs
        self.timeout = timeout
        self.extra = extra
        self.lock = threading.Lock()
        self.running: dict[str, subprocess.Popen] = {}
        self.results = []
        self.stopping = False
        self.lab_running = False
        self.logs = target_dir() / "suite-logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def next_suite(self):
        """The first queued suite that may start now: at most one VPC lab suite at a time
        (each lab runs many namespaces, nft reloads and a 1-second resolver; two at once
        on 2 cores made its timing-sensitive checks flaky), any other suite beside it.
        Waits while only lab suites are left and one is running."""
        while True:
            with self.lock:
                if self.stopping or not self.queue:
                    return None
                for i, suite in enumerate(self.queue):
                    if not is_lab(suite) or not self.lab_running:
                        if is_lab(suite):
                            self.lab_running = True
                        return self.queue.pop(i)
            time.sleep(0.2)

    def worker(self):
        while (suite := self.next_suite()) is not None:
            self.run_one(suite)

    def run_one(self, suite):
        log = self.logs / (suite["id"].replace("::", "__").replace(" ", "_") + ".log")
        env = dict(os.environ)
        env["CARGO_MANIFEST_DIR"] = suite["dir"]
        env["CARGO_PKG_NAME"] = suite["package"]
        # The binaries are built (by build()): the tests take them from here and never
        # run cargo, which would re-link them under a suite that is starting one.
        env["EGRESS_PROBE_PREBUILT_BINS"] = str(target_dir() / "debug")
        start = time.monotonic()
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [suite["executable"], *self.extra],
                cwd=suite["dir"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            with self.lock:
                self.running[suite["id"]] = proc
            try:
                code = proc.wait(timeout=self.timeout)
                result = "ok" if code == 0 else f"FAILED (exit {code})"
            except subprocess.TimeoutExpired:
                stop(proc)
                result = f"FAILED (stopped after {self.timeout} s)"
            finally:
                with self.lock:
                    self.running.pop(suite["id"], None)
                    if is_lab(suite):
                        self.lab_running = False
        took = time.monotonic() - start
        with self.lock:
            self.results.append((suite["id"], took, result, log))
            print(f"{took:8.1f} s  {result:<10} {suite['id']}", file=sys.stderr, flush=True)

    def stop_all(self, *_):
        with self.lock:
            self.stopping = True
            procs = list(self.running.values())
        for p in procs:
            stop(p)

    def run(self):
        threads = [threading.Thread(target=self.worker) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def is_lab(suite) -> bool:
    """The VPC lab's suites (tests/tests/lab_*.rs)."""
    return suite["id"].startswith("egress-probe-e2e::lab_")


def stop(proc: subprocess.Popen):
    """SIGTERM to the suite's process group, SIGKILL 10 s later (the lab cleans up its
    namespaces on SIGTERM)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    extra = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    jobs = int(os.environ.get("EGRESS_PROBE_SUITE_JOBS", max(2, os.cpu_count() or 1)))
    timeout = int(os.environ.get("EGRESS_PROBE_SUITE_TIMEOUT", 1800))
    if jobs < 1 or timeout < 1:
        print("run_suites: EGRESS_PROBE_SUITE_JOBS and _TIMEOUT must be positive", file=sys.stderr)
        return 2

    print("== documentation tests", file=sys.stderr, flush=True)
    doc = subprocess.run(["cargo", "test", "--workspace", "--doc"], cwd=ROOT)

    suites = build()
    times_file = target_dir() / "suite-times.json"
    try:
        known = json.loads(times_file.read_text())
    except (OSError, ValueError):
        known = {}
    # Unknown suites (a first run): the end-to-end package's first (the lab and moto
    # suites are the slow ones), then the installer's, then the rest.
    guess = {"egress-probe-e2e": 1e6, "egress-probe-installer": 1e5}
    suites.sort(key=lambda s: -known.get(s["id"], guess.get(s["package"], 1e4)))
    print(
        f"== {len(suites)} test suites, {jobs} at a time (slowest first; logs in "
        f"{target_dir() / 'suite-logs'})",
        file=sys.stderr,
        flush=True,
    )
    runner = Runner(suites, jobs, timeout, extra)
    signal.signal(signal.SIGTERM, runner.stop_all)
    signal.signal(signal.SIGINT, runner.stop_all)
    wall = time.monotonic()
    runner.run()
    wall = time.monotonic() - wall

    failed = [r for r in runner.results if r[2] != "ok"]
    for sid, _, result, log in failed:
        print(f"\n== {sid}: {result}; its output:", file=sys.stderr)
        text = log.read_text(errors="replace").splitlines()
        print("\n".join(text[-300:]), file=sys.stderr)
    print("== test suites, slowest first", file=sys.stderr)
    for sid, took, result, _ in sorted(runner.results, key=lambda r: -r[1]):
        print(f"{took:8.1f} s  {result:<10} {sid}", file=sys.stderr)
    total = sum(r[1] for r in runner.results)
    print(
        f"== {len(runner.results)} suites in {wall:.1f} s wall ({total:.1f} s if run one "
        f"after another); {len(failed)} failed; documentation tests "
        f"{'ok' if doc.returncode == 0 else 'FAILED'}",
        file=sys.stderr,
    )
    if runner.stopping:
        print("== stopped by a signal: not every suite ran", file=sys.stderr)
        return 1
    known.update({sid: took for sid, took, result, _ in runner.results if result == "ok"})
    try:
        times_file.write_text(json.dumps(known, indent=1, sort_keys=True))
    except OSError:
        pass
    missing = len(suites) - len(runner.results)
    return 0 if not failed and doc.returncode == 0 and missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
