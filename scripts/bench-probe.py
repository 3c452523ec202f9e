#!/usr/bin/env python3
"""Probe benchmarks on loopback (issue 3): cold start, peak RSS, deadline precision, size.

Usage: scripts/bench-probe.py [BOOTSTRAP]

BOOTSTRAP defaults to the cargo-lambda release build
($CARGO_TARGET_DIR or target)/lambda/egress-probe-lambda/bootstrap.
- cold start: process start -> first Runtime API request (GET .../invocation/next),
  against a loopback listener; median of 40 runs.
- peak RSS: one `--once` run with 10 loopback targets (TCP and HTTPS), ru_maxrss.
- deadline precision: a hanging HTTPS target with 2000 ms of invocation time; the report's
  duration minus its budget (invocation time - 500 ms safety margin); median of 20 runs.
- size: the stripped bootstrap and its zip.
"""
import json, os, resource, socket, statistics, subprocess, sys, threading, time, zipfile

def default_bootstrap():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.dirname(__file__), "..", "target")
    return os.path.join(target, "lambda", "egress-probe-lambda", "bootstrap")

def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s, s.getsockname()[1]

def hold_connections(sock):
    held = []
    def run():
        while True:
            try:
                c, _ = sock.accept()
                held.append(c)
            except OSError:
                return
    threading.Thread(target=run, daemon=True).start()

def base_env():
    return {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1"}

def cold_start(bootstrap, runs=40):
    samples = []
    for _ in range(runs):
        sock, port = listener()
        env = base_env() | {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "s",
        }
        t0 = time.perf_counter()
        p = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock.settimeout(10)
        conn, _ = sock.accept()
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        t1 = time.perf_counter()
        assert data.startswith(b"GET /2018-06-01/runtime/invocation/next"), data[:80]
        p.kill(); p.wait(); conn.close(); sock.close()
        samples.append((t1 - t0) * 1000)
    return statistics.median(samples), min(samples), max(samples)

def once(bootstrap, event, env, timeout_ms):
    p = subprocess.run([bootstrap, "--once", "--timeout-ms", str(timeout_ms)], input=event.encode(),
                       env=base_env() | env, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"probe failed: {p.stderr.decode()}")
    return json.loads(p.stdout)

def peak_rss(bootstrap):
    sock, port = listener()
    hold_connections(sock)
    closed_sock, closed = listener(); closed_sock.close()
    targets = [f"tcp://127.0.0.1:{port}"] * 5 + [f"tcp://127.0.0.1:{closed}"] * 2 + [f"https://127.0.0.1:{port}/"] * 3
    event = json.dumps({"targets": targets, "timeouts": {"https_ms": 300}, "diagnose": "never"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = once(bootstrap, event, {}, 5000)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert len(r["plan"]["targets"]) == 10
    return max(before, after) / 1024.0

def deadline(bootstrap, runs=20):
    sock, port = listener()
    hold_connections(sock)
    event = json.dumps({"targets": [f"https://127.0.0.1:{port}/"], "diagnose": "never"})
    over = []
    for _ in range(runs):
        r = once(bootstrap, event, {}, 2000)
        assert r["observations"][0]["status"] == "cut_short", r["observations"][0]
        over.append(r["duration_ms"] - r["budget_ms"])
    return statistics.median(over), max(over)

def sizes(bootstrap):
    """The bootstrap and the zip Lambda would get (deflate, like `cargo lambda build
    --output-format zip`), measured from this very binary."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(bootstrap, "bootstrap")
    return os.path.getsize(bootstrap), len(buf.getvalue())

def main():
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else default_bootstrap()
    if not os.path.exists(bootstrap):
        raise SystemExit(f"{bootstrap} not found: run `cargo lambda build --release -p egress-probe` first")
    med, lo, hi = cold_start(bootstrap)
    print(f"cold start (exec -> first Runtime API request): median {med:.2f} ms (min {lo:.2f}, max {hi:.2f}, n=40; goal <= 15 ms)")
    print(f"peak RSS, 10-target run: {peak_rss(bootstrap):.1f} MB (goal <= 30 MB)")
    med, worst = deadline(bootstrap)
    print(f"deadline precision (report duration - budget, hanging target): median {med:+.1f} ms, worst {worst:+.1f} ms (n=20; goal within 50 ms)")
    b, z = sizes(bootstrap)
    print(f"size: bootstrap {b/1024/1024:.2f} MiB, zip {z/1024/1024:.2f} MiB")

if __name__ == "__main__":
    main()
