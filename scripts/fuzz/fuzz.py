"""Schema-driven fuzzer for a real `dxcp serve` (issue 11).

For each role (admin, owner, observer, ci) this starts `dxcp serve` on a
free loopback port with a fresh SQLite database, dev tokens and high rate
limits, seeds a few deployments and a build so the fuzzer has real records
to read, then runs schemathesis in GraphQL mode (schema from `dxcp schema`)
for a fixed time budget with that role's token. Every request is judged by
dxcp_hooks.py; this script adds up the verdicts, checks that the server is
still alive (and never panicked), prints the figures and the distinct
failures with a curl reproducer, and ends with

    fuzz: N passed, M failed

(N requests without failure, M failing requests). Exit status 1 when M > 0
or a server died. Usage (run.sh sets up the virtualenv):

    python fuzz.py path/to/dxcp [--seconds 60] [--roles admin,owner] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))

TOKENS = {
    "admin": "dxcp-dev-admin",
    "owner": "dxcp-dev-owner",
    "observer": "dxcp-dev-observer",
    "ci": "dxcp-dev-ci",
}

# Catalogue names (config/demo-catalog.toml) mixed into generated values.
KNOWN_IDS = ["payments", "storefront", "standard", "canary", "payments-api", "sandbox"]
KNOWN_STRINGS = [
    "payments-api", "ledger", "checkout-web", "catalog-api", "sandbox", "staging", "prod",
    "payments", "storefront", "standard", "canary", "1.0.0", "1.1.0", "1.2.0", "1.3.0-fail",
    "owner", "admin", "ci", "observer", "DEPLOY_SUBMIT", "DEPLOYMENT", "SUCCESS",
    "fuzz change", "s3://bucket/key.zip", "application/zip", "a" * 64, "b" * 40, "main",
]

SERVERS: list[subprocess.Popen] = []


def log(msg: str = "") -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen, work: str) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.remove(os.path.join(work, "server.pid"))
    except FileNotFoundError:
        pass


def kill_servers(work: str) -> None:
    for proc in SERVERS:
        stop_server(proc, work)
    SERVERS.clear()


def gql(url: str, token: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"{}")


def start_server(binary: str, work: str, role: str) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    db_dir = os.path.join(work, f"db-{role}")
    os.makedirs(db_dir, exist_ok=True)
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("DXCP_"):
            del env[k]
    env.update(
        {
            "DXCP_LISTEN": f"127.0.0.1:{port}",
            "DXCP_DATABASE_URL": f"sqlite://{db_dir}/f.db?mode=rwc",
            "DXCP_AUTH": "dev",
            "DXCP_ENGINE": "simulated",
            "DXCP_SIMULATED_DURATION_MS": "300",
            "DXCP_READ_RPM": "100000",
            "DXCP_MUTATE_RPM": "100000",
            "DXCP_INTROSPECTION": "on",
        }
    )
    server_log = os.path.join(work, f"server-{role}.log")
    with open(server_log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    SERVERS.append(proc)
    # run.sh's exit trap stops the server named here if this script could not.
    with open(os.path.join(work, "server.pid"), "w") as fh:
        fh.write(f"{proc.pid}\n")
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base + "/graphql", server_log
        except OSError:
            pass
        time.sleep(0.1)
    with open(server_log, errors="replace") as fh:
        sys.stderr.write(fh.read()[-4000:])
    raise SystemExit(f"dxcp did not become ready on {base}")


DEPLOY = """mutation($i: DeploymentIntentInput!, $k: String!) {
  deploy(intent: $i, idempotencyKey: $k) { id state }
}"""
ROLLBACK = """mutation($id: ID!, $k: String!) {
  rollback(deploymentId: $id, changeSummary: "fuzz seed rollback", idempotencyKey: $k) { id }
}"""
REGISTER = """mutation($b: BuildInput!, $k: String!) {
  registerBuild(input: $b, idempotencyKey: $k) { version }
}"""


def wait_terminal(url: str, dep_id: str) -> str:
    state = "?"
    for _ in range(100):
        res = gql(url, TOKENS["admin"], "query($id: ID!) { deployment(id: $id) { state } }", {"id": dep_id})
        state = ((res.get("data") or {}).get("deployment") or {}).get("state", "?")
        if state in ("SUCCEEDED", "FAILED", "CANCELED", "ROLLED_BACK"):
            return state
        time.sleep(0.1)
    return state


def seed(url: str) -> list[str]:
    """A few records of every kind: succeeded, superseded, failed, rolled back, a
    rollback, one per group; and a CI build. Returns the deployment ids."""
    ids: list[str] = []

    def deploy(who: str, service: str, version: str, env: str) -> str | None:
        intent = {"service": service, "version": version, "environment": env, "changeSummary": "fuzz seed"}
        res = gql(url, TOKENS[who], DEPLOY, {"i": intent, "k": str(uuid.uuid4())})
        dep = (res.get("data") or {}).get("deploy")
        if not dep:
            log(f"  seed: deploy {service} {version} {env} as {who} refused: {res.get('errors')}")
            return None
        ids.append(dep["id"])
        wait_terminal(url, dep["id"])
        return dep["id"]

    deploy("admin", "payments-api", "1.0.0", "sandbox")
    second = deploy("owner", "payments-api", "1.1.0", "sandbox")
    deploy("admin", "ledger", "1.3.0-fail", "sandbox")
    deploy("owner", "checkout-web", "1.0.0", "staging")
    if second:
        res = gql(url, TOKENS["owner"], ROLLBACK, {"id": second, "k": str(uuid.uuid4())})
        rb = (res.get("data") or {}).get("rollback")
        if rb:
            ids.append(rb["id"])
            wait_terminal(url, rb["id"])
        else:
            log(f"  seed: rollback refused: {res.get('errors')}")
    build = {
        "service": "ledger", "version": "9.9.9", "artifactRef": "s3://fuzz/ledger-9.9.9.zip",
        "sha256": "c" * 64, "sizeBytes": 1024, "contentType": "application/zip", "gitSha": "d" * 40,
        "gitBranch": "main", "ciProvider": "github", "ciRunId": "42", "builtAt": "2026-01-01T00:00:00Z",
    }
    res = gql(url, TOKENS["ci"], REGISTER, {"b": build, "k": str(uuid.uuid4())})
    if not (res.get("data") or {}).get("registerBuild"):
        log(f"  seed: registerBuild refused: {res.get('errors')}")
    # Real cursors, so `after` is sometimes one this API issued.
    for q in (
        "{ deployments(first: 2) { pageInfo { endCursor } } }",
        '{ builds(service: "payments-api", first: 1) { pageInfo { endCursor } } }',
        "{ auditEvents(first: 3) { pageInfo { endCursor } } }",
    ):
        data = gql(url, TOKENS["admin"], q).get("data") or {}
        for conn in data.values():
            cursor = ((conn or {}).get("pageInfo") or {}).get("endCursor")
            if cursor:
                ids.append(cursor)
    return ids


# Every path to an admin-only value, asked for in the plain, aliased, fragment,
# batched and GET forms, and through the mutations that answer a Deployment.
# Schemathesis reaches these only now and then; these requests make the leak
# check certain on every run. Judged like the fuzzer's own requests.
ENGINE = "engineExecutionId engineExecutionUrl"
MAPPING = "spinnakerApplication deployPipeline rollbackPipeline"
PROBES = [
    f"{{ deployments(first: 100) {{ nodes {{ id {ENGINE} }} edges {{ node {{ {ENGINE} }} }} }} }}",
    f"{{ a: deployments(first: 100) {{ nodes {{ x: engineExecutionId y: engineExecutionUrl }} }} }}",
    f"{{ recipes {{ id {MAPPING} }} r: recipe(id: \"standard\") {{ ...M }} }} fragment M on Recipe {{ {MAPPING} }}",
    f"{{ recipes {{ ... on Recipe {{ s: spinnakerApplication d: deployPipeline r: rollbackPipeline }} }} }}",
    "{ auditEvents(first: 5) { nodes { id } } }",
    "{ systemSettings { readRpm ciPublishers } }",
]


def probe(url: str, role: str, dep_ids: list[str], log_path: str) -> None:
    token = TOKENS[role]
    queries = list(PROBES)
    for dep in dep_ids[:6]:
        queries.append(f'{{ deployment(id: "{dep}") {{ id {ENGINE} ... on Deployment {{ u: engineExecutionUrl }} }} }}')
    # Mutations answering a Deployment (refused for most roles: that is fine).
    intent = '{service: "catalog-api", version: "1.0.0", environment: "sandbox", changeSummary: "leak probe"}'
    queries.append(f'mutation {{ deploy(intent: {intent}, idempotencyKey: "probe-{role}") {{ id {ENGINE} }} }}')
    for dep in dep_ids[:2]:
        queries.append(
            f'mutation {{ cancelDeployment(id: "{dep}", idempotencyKey: "probe-c-{role}-{dep}") {{ {ENGINE} }} }}'
        )
        queries.append(
            f'mutation {{ rollback(deploymentId: "{dep}", idempotencyKey: "probe-r-{role}-{dep}") {{ {ENGINE} }} }}'
        )
    requests_ = [json.dumps({"query": q}) for q in queries]
    requests_.append(json.dumps([{"query": PROBES[0]}, {"query": PROBES[2]}]))  # a batch
    entries = []
    for i, body in enumerate(requests_):
        accept = "application/graphql-response+json" if i % 2 else "application/json"
        req = urllib.request.Request(
            url, data=body.encode(),
            headers={"Content-Type": "application/json", "Accept": accept, "Authorization": f"Bearer {token}"},
        )
        entries.append(exchange(req, "probe POST", body, accept))
    get_q = PROBES[3]
    get_url = url + "?" + urllib.parse.urlencode({"query": get_q})
    req = urllib.request.Request(get_url, headers={"Authorization": f"Bearer {token}"})
    entries.append(exchange(req, "probe GET", json.dumps({"query": get_q}), ""))
    with open(log_path, "a", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")


def exchange(req: urllib.request.Request, operation: str, body: str, accept: str) -> dict:
    import dxcp_hooks

    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode("utf-8", "replace")
    except OSError:
        status, text = None, None
    parsed = json.loads(body)
    query = body if isinstance(parsed, list) else parsed.get("query")
    return {
        "role": dxcp_hooks.ROLE, "operation": operation, "method": req.get_method(), "url": req.full_url,
        "request": body, "accept": accept, "status": status, "response": text,
        "failures": dxcp_hooks.judge(status, text, query),
    }


def read_log(path: str) -> list[dict]:
    entries = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    entries.append(json.loads(line))
    return entries


def failure_key(entry: dict, reason: str) -> str:
    """Groups failing requests into distinct findings."""
    if entry["status"] is None:
        return reason
    r = re.sub(r"\[\d+\]", "[]", reason)
    r = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", r) if r.startswith(("uncoded", "INTERNAL")) else r
    r = re.sub(r"\d+", "N", r) if not r.startswith("HTTP 5") else r
    return f"{entry['operation']} :: {r}"


def curl_for(entry: dict, token: str) -> str:
    accept = f"-H 'Accept: {entry['accept']}' " if entry.get("accept") else ""
    return (
        f"curl -sS -X POST {entry['url']} -H 'Content-Type: application/json' {accept}"
        f"-H 'Authorization: Bearer {token}' --data-binary {shlex.quote(entry['request'])}"
    )


def run_role(args, work: str, role: str) -> dict:
    log(f"\n--- role {role} (token {TOKENS[role]}), budget {args.seconds}s")
    proc, url, server_log = start_server(args.binary, work, role)
    dep_ids = seed(url)
    settings = gql(
        url, TOKENS["admin"], "{ systemSettings { dailyBuildRegisterQuota ciPublishers } }"
    ).get("data") or {}
    fuzz_log = os.path.join(work, f"requests-{role}.jsonl")
    env = dict(os.environ)
    env.update(
        {
            "SCHEMATHESIS_HOOKS": "dxcp_hooks",
            "PYTHONPATH": HERE + os.pathsep + env.get("PYTHONPATH", ""),
            "DXCP_FUZZ_ROLE": role,
            "DXCP_FUZZ_LOG": fuzz_log,
            "DXCP_FUZZ_KNOWN_IDS": json.dumps(KNOWN_IDS + dep_ids),
            "DXCP_FUZZ_KNOWN_STRINGS": json.dumps(KNOWN_STRINGS + dep_ids),
            "DXCP_FUZZ_URL": url,
            "DXCP_FUZZ_TOKEN": TOKENS[role],
            "DXCP_FUZZ_SETTINGS": json.dumps(settings.get("systemSettings") or {}),
            "NO_COLOR": "1",
        }
    )
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", args.schema, "--url", url,
        "--header", f"Authorization: Bearer {TOKENS[role]}",
        "--checks", "dxcp_contract",
        "--max-time", str(args.seconds),
        "--seed", str(args.seed),
        "--workers", "1",
        "--request-timeout", "15",
        "--continue-on-failure",
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--report-dir", os.path.join(work, f"report-{role}"),
        "--no-color",
    ]
    st_out = os.path.join(work, f"schemathesis-{role}.txt")
    started = time.monotonic()
    with open(st_out, "w") as out:
        try:
            st_rc = subprocess.run(
                cmd, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT, timeout=args.seconds + 120
            ).returncode
        except subprocess.TimeoutExpired:
            st_rc = "timeout"
    elapsed = time.monotonic() - started
    if proc.poll() is None:
        import dxcp_hooks

        dxcp_hooks.ROLE, dxcp_hooks.IS_ADMIN = role, role == "admin"
        probe(url, role, dep_ids, fuzz_log)

    alive = proc.poll() is None
    with open(server_log, errors="replace") as fh:
        panics = [line.rstrip() for line in fh if "panicked" in line]
    entries = read_log(fuzz_log)
    stop_server(proc, work)
    failing = [e for e in entries if e["failures"]]
    # The request just before the first one left unanswered is the likely killer.
    first_dead = next((i for i, e in enumerate(entries) if e["status"] is None), None)
    last_answered = entries[first_dead - 1] if first_dead else None
    log(
        f"  role {role}: {len(entries)} requests sent in {elapsed:.0f}s, {len(failing)} failed"
        f" (schemathesis exit {st_rc}; server {'alive' if alive else 'DEAD, exit ' + str(proc.returncode)};"
        f" {len(panics)} panics in its log)"
    )
    ops = sorted({e["operation"] for e in entries if not e["operation"].startswith("probe")})
    probes = sum(1 for e in entries if e["operation"].startswith("probe"))
    log(f"  schema operations exercised: {len(ops)}; plus {probes} fixed admin-only-field probes")
    statuses: dict = {}
    for e in entries:
        statuses[e["status"]] = statuses.get(e["status"], 0) + 1
    log(f"  HTTP statuses: {dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))}")
    if not entries:
        log(f"  schemathesis sent nothing; its output ({st_out}):")
        with open(st_out, errors="replace") as fh:
            log(fh.read()[-3000:])

    with open(os.path.join(work, f"failures-{role}.jsonl"), "w", encoding="utf-8") as fh:
        for e in failing:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    groups: dict[str, list[dict]] = {}
    for e in failing:
        for reason in e["failures"]:
            groups.setdefault(failure_key(e, reason), []).append(e)
    return {
        "role": role, "sent": len(entries), "failed": len(failing), "alive": alive,
        "panics": panics, "groups": groups, "empty": not entries, "last_answered": last_answered,
        "hung": st_rc == "timeout",
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    ap.add_argument("--roles", default=os.environ.get("FUZZ_ROLES", "admin,owner,observer,ci"))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "11")))
    ap.add_argument("--work", default=os.environ.get("FUZZ_WORK") or None)
    ap.add_argument("--show", type=int, default=int(os.environ.get("FUZZ_SHOW", "5")))
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    work = args.work or tempfile.mkdtemp(prefix="dxcp-fuzz-")
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, HERE)
    import dxcp_hooks

    dxcp_hooks.self_test()
    # The SDL of the binary under test (`dxcp schema`), not introspection: the
    # server's depth limit refuses the standard (deep) introspection query.
    args.schema = os.path.join(work, "schema.graphql")
    with open(args.schema, "wb") as fh:
        subprocess.run([args.binary, "schema"], stdout=fh, check=True, env={"PATH": os.environ.get("PATH", "")})
    log(f"fuzzing {args.binary} (seed {args.seed}, {args.seconds}s per role); requests and failures in {work}")

    results = []
    try:
        for role in args.roles.split(","):
            results.append(run_role(args, work, role.strip()))
    finally:
        kill_servers(work)

    log("\n=== fuzz summary")
    total_sent = total_failed = 0
    bad = False
    for r in results:
        total_sent += r["sent"]
        total_failed += r["failed"]
        crash = (not r["alive"]) or bool(r["panics"])
        bad = bad or crash or r["empty"] or r["hung"]
        log(
            f"{r['role']:>9}: {r['sent']} requests, {r['failed']} failed, {len(r['groups'])} distinct"
            + (", SERVER DIED" if not r["alive"] else "")
            + (f", {len(r['panics'])} panics" if r["panics"] else "")
            + (", NOTHING SENT" if r["empty"] else "")
            + (", SCHEMATHESIS OVERRAN ITS BUDGET" if r["hung"] else "")
        )
        for line in r["panics"][:3]:
            log(f"           panic: {line[:300]}")
    for r in results:
        token = TOKENS[r["role"]]
        if r["last_answered"] is not None:
            e = r["last_answered"]
            log(f"\n[{r['role']}] last request answered before the server stopped answering:")
            log(f"  {curl_for(e, token)}")
            log(f"  response ({e['status']}): {(e['response'] or '')[:400]}")
        groups = sorted(r["groups"].items(), key=lambda kv: -len(kv[1]))
        for key, items in groups[: args.show]:
            smallest = min(items, key=lambda e: len(e["request"]))
            log(f"\n[{r['role']}] {key}  ({len(items)} requests)")
            log(f"  reproduce: {curl_for(smallest, token)}")
            log(f"  response ({smallest['status']}): {(smallest['response'] or '')[:800]}")
        if len(groups) > args.show:
            log(f"\n[{r['role']}] ... {len(groups) - args.show} more distinct failures in {work}/failures-{r['role']}.jsonl")
    passed = total_sent - total_failed
    log(f"\nrequests and failures kept in {work}")
    log(f"fuzz: {passed} passed, {total_failed} failed")
    return 1 if (total_failed or bad) else 0


if __name__ == "__main__":
    sys.exit(main())
