#!/usr/bin/env python3
"""Cold-start bench of the omnidesk Lambda binaries against a local Lambda Runtime API stub.

Run by infra/bench/cold-start (which builds the binaries and starts moto). For each binary:
- init: time from process spawn to its first GET /2018-06-01/runtime/invocation/next, median
  of --reps runs (the process is killed at that point), the runs of all binaries interleaved;
- peak RSS: one run that handles the function's fixture (10 API Gateway events, or one SQS
  event of 10 records), VmHWM read from /proc/<pid>/status before the process is killed;
- binary size.
The same HTTP server (127.0.0.1, port 0) also fakes the Telegram Bot API (sendMessage) and the
API Gateway Management API (/prod/@connections/{id}) the functions call.
Prints one row per function and, last, a JSON line with worst_ratio, max_rss_mb, max_binary_mb.
Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

RUNTIME = "/2018-06-01/runtime"


class State:
    def __init__(self):
        self.lock = threading.Condition()
        self.reset([])

    def reset(self, events):
        with self.lock:
            self.events = list(events)
            self.next_index = 0
            self.first_next = None
            self.responses = []
            self.errors = []
            self.generation = getattr(self, "generation", 0) + 1
            self.lock.notify_all()


STATE = State()
SENT = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == RUNTIME + "/invocation/next":
            now = time.perf_counter()
            with STATE.lock:
                if STATE.first_next is None:
                    STATE.first_next = now
                    STATE.lock.notify_all()
                gen = STATE.generation
                if STATE.next_index >= len(STATE.events):
                    # Nothing to hand out: hold the long poll until the run is over.
                    STATE.lock.wait_for(lambda: STATE.generation != gen, timeout=60)
                    self.close_connection = True
                    return
                event = STATE.events[STATE.next_index]
                STATE.next_index += 1
            body = json.dumps(event).encode()
            request_id = str(uuid.uuid4())
            self._reply(200, body, {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                "Lambda-Runtime-Invoked-Function-Arn":
                    "arn:aws:lambda:us-east-1:123456789012:function:bench",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            })
            return
        self._reply(404, b"{}")

    def do_POST(self):
        body = self._body()
        path = self.path
        if path.startswith(RUNTIME + "/invocation/") and path.endswith("/response"):
            with STATE.lock:
                STATE.responses.append(body)
                STATE.lock.notify_all()
            self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        elif path.startswith(RUNTIME) and path.endswith("/error"):
            with STATE.lock:
                STATE.errors.append(body)
                STATE.responses.append(None)
                STATE.lock.notify_all()
            self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        elif path.startswith("/bot") and path.endswith("/sendMessage"):
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype:
                params = json.loads(body or b"{}")
            else:
                params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            SENT["n"] += 1
            chat = int(params.get("chat_id", 0))
            result = {"message_id": SENT["n"], "date": int(time.time()),
                      "chat": {"id": chat, "type": "private", "first_name": "Ann"},
                      "text": params.get("text", "")}
            self._reply(200, json.dumps({"ok": True, "result": result}).encode(),
                        {"Content-Type": "application/json"})
        elif "/@connections/" in path:
            self._reply(200, b"{}", {"Content-Type": "application/json"})
        else:
            self._reply(404, b'{"ok":false}', {"Content-Type": "application/json"})


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A killed Lambda process resets its long poll: expected, not worth a traceback.
        pass


def lambda_env(base_env, port, name):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        # Every SDK client goes to moto; pushes go to WEBSOCKET_API_ENDPOINT (this stub).
        "AWS_ENDPOINT_URL": os.environ["OMNIDESK_TEST_AWS_ENDPOINT"],
    }
    env.update(base_env)
    return env


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def measure_init(binary, env):
    STATE.reset([])
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with STATE.lock:
        STATE.lock.wait_for(lambda: STATE.first_next is not None or proc.poll() is not None,
                            timeout=20)
        first = STATE.first_next
    stop(proc)
    if first is None:
        err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
        raise RuntimeError(f"{binary} never asked for an event: {err}")
    return (first - t0) * 1000.0


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def handled_ok(body):
    if body is None:
        return False
    try:
        v = json.loads(body)
    except ValueError:
        return False
    if isinstance(v, dict):
        if "batchItemFailures" in v:
            return not v["batchItemFailures"]
        if "statusCode" in v:
            return int(v["statusCode"]) < 500
    return True


def measure_run(binary, env, events):
    STATE.reset(events)
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.perf_counter()
    with STATE.lock:
        STATE.lock.wait_for(lambda: len(STATE.responses) >= len(events) or proc.poll() is not None,
                            timeout=120)
        responses = list(STATE.responses)
    elapsed = (time.perf_counter() - t0) * 1000.0
    hwm = vm_hwm_kb(proc.pid) if proc.poll() is None else 0
    stop(proc)
    ok = sum(1 for r in responses if handled_ok(r))
    return hwm / 1024.0, ok, len(events), elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--fixture-bin", required=True)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--label", default="host release")
    ap.add_argument("functions", nargs="+", help="name=binary pairs; 'hello' is the baseline")
    args = ap.parse_args()

    server = QuietServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    fixture_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"omnidesk-cold-{os.getpid()}")
    subprocess.run([args.fixture_bin, fixture_dir, f"http://127.0.0.1:{port}"], check=True,
                   stdout=sys.stderr)
    base_env = {}
    with open(os.path.join(fixture_dir, "env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                base_env[k] = v

    specs = []
    for spec in args.functions:
        name, _, binary_name = spec.partition("=")
        specs.append((name, binary_name, os.path.join(args.bin_dir, binary_name),
                      lambda_env(base_env, port, name)))
    # Init runs are interleaved (rep 1 of every binary, then rep 2, ...), so that whatever
    # else the machine does during the bench falls on hello-world and the functions alike.
    inits_of = {name: [] for name, _, _, _ in specs}
    for _ in range(max(1, args.reps)):
        for name, _, binary, env in specs:
            inits_of[name].append(measure_init(binary, env))

    rows = []
    for name, binary_name, binary, env in specs:
        inits = inits_of[name]
        with open(os.path.join(fixture_dir, f"{name}.json")) as f:
            events = json.load(f)
        rss, ok, total, run_ms = measure_run(binary, env, events)
        rows.append({
            "function": name,
            "binary": binary_name,
            "binary_mb": round(os.path.getsize(binary) / 1e6, 2),
            "init_ms_median": round(statistics.median(inits), 2),
            "init_ms_min": round(min(inits), 2),
            "init_ms_max": round(max(inits), 2),
            "rss_mb": round(rss, 1),
            "handled": f"{ok}/{total}",
            "run_ms": round(run_ms, 1),
        })

    hello = next((r for r in rows if r["function"] == "hello"), None)
    base = hello["init_ms_median"] if hello else None
    print(f"cold start ({args.label}; init = spawn -> first /next, median of {args.reps}; "
          f"RSS = VmHWM after handling the fixture)")
    print(f"{'function':<18} {'binary':<28} {'size MB':>8} {'init ms':>8} {'min':>6} {'max':>6} "
          f"{'x hello':>7} {'RSS MB':>7} {'handled':>8} {'run ms':>8}")
    print("  (handled = invocations answered without error / failed records: 10 API Gateway "
          "events, or 1 SQS event of 10 records)")
    for r in rows:
        ratio = r["init_ms_median"] / base if base else float("nan")
        r["ratio"] = round(ratio, 2)
        print(f"{r['function']:<18} {r['binary']:<28} {r['binary_mb']:>8.2f} "
              f"{r['init_ms_median']:>8.2f} {r['init_ms_min']:>6.2f} {r['init_ms_max']:>6.2f} "
              f"{ratio:>7.2f} {r['rss_mb']:>7.1f} {r['handled']:>8} {r['run_ms']:>8.1f}")
    funcs = [r for r in rows if r["function"] != "hello"]
    out = {
        "worst_ratio": max((r["ratio"] for r in funcs), default=None),
        "max_rss_mb": max((r["rss_mb"] for r in funcs), default=None),
        "max_binary_mb": max((r["binary_mb"] for r in funcs), default=None),
        "hello_init_ms": base,
        "hello_rss_mb": hello["rss_mb"] if hello else None,
        "build": args.label,
        "all_handled": all(r["handled"].split("/")[0] == r["handled"].split("/")[1] for r in rows),
        "functions": {r["function"]: {k: r[k] for k in
                                       ("init_ms_median", "ratio", "rss_mb", "binary_mb", "handled")}
                      for r in rows},
    }
    server.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
