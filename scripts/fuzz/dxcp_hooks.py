"""Schemathesis hooks for the DXCP fuzzer (loaded through SCHEMATHESIS_HOOKS).

Every request schemathesis sends is judged here against the contract
(DESIGN.md sections 3, 7, 10) and written, with its verdict, to the JSON
Lines file named by DXCP_FUZZ_LOG. fuzz.py reads that file for the figures.

A request fails when:
  - the HTTP status is 5xx, or no answer came at all (timeout, refused);
  - the body is not a GraphQL JSON response;
  - a GraphQL error has no `extensions.code`, or its code is `INTERNAL`;
  - the caller is not PLATFORM_ADMIN and `data` holds a non-null value of
    an admin-only field (aliases resolved through the query), or an error
    carries the admin-only `extensions.operatorHint`.
Coded refusals (ROLE_FORBIDDEN, INVALID_REQUEST, NOT_FOUND, ...) and other
4xx answers are the contract working, not failures.

The same verdict is registered as the check `dxcp_contract`, so schemathesis
also shrinks and reports failing cases itself.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# Field name -> the types it is admin-only on (DESIGN.md sections 2, 7).
ADMIN_ONLY_FIELDS = {
    "engineExecutionId": "Deployment",
    "engineExecutionUrl": "Deployment",
    "spinnakerApplication": "Recipe",
    "deployPipeline": "Recipe",
    "rollbackPipeline": "Recipe",
}
# Root fields only PLATFORM_ADMIN may read (section 3: no audit log for
# others; systemSettings is documented PLATFORM_ADMIN only).
ADMIN_ONLY_ROOTS = {"auditEvents", "systemSettings"}

ROLE = os.environ.get("DXCP_FUZZ_ROLE", "admin")
IS_ADMIN = ROLE == "admin"
LOG_PATH = os.environ.get("DXCP_FUZZ_LOG")
_LOCK = threading.Lock()


# ---------------------------------------------------------------- inputs
# Mix real catalogue names and ids (and the seeded deployment ids) into the
# generated IDs and Strings, so the fuzzer reaches past "not found" into the
# guardrails, loaders and admin mutations, not only the input checks.
def _known(var: str) -> list[str]:
    return [v for v in json.loads(os.environ.get(var) or "[]") if isinstance(v, str) and v]


_KNOWN_IDS = _known("DXCP_FUZZ_KNOWN_IDS")
_KNOWN_STRINGS = _known("DXCP_FUZZ_KNOWN_STRINGS")
if _KNOWN_IDS:
    schemathesis.graphql.scalar(
        "ID",
        st.one_of(st.sampled_from(_KNOWN_IDS), st.text(max_size=40)).map(nodes.String),
    )
# Page sizes and guardrail values mostly in the range that passes the input
# checks (`first` is 0..=100), sometimes anything a 32-bit Int holds.
schemathesis.graphql.scalar(
    "Int",
    st.one_of(
        st.integers(min_value=0, max_value=100),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
    ).map(nodes.Int),
)
if _KNOWN_STRINGS:
    schemathesis.graphql.scalar(
        "String",
        st.one_of(st.sampled_from(_KNOWN_STRINGS), st.text(max_size=300)).map(nodes.String),
    )


# ---------------------------------------------------------------- verdict
def _query_of(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        q = body.get("query")
        return q if isinstance(q, str) else None
    return None


def _selection_map(selection_set, fragments) -> dict[str, list]:
    """Response key -> [(field name, sub-selection set)] over fragments."""
    out: dict[str, list] = {}
    if selection_set is None:
        return out
    for sel in selection_set.selections:
        if isinstance(sel, graphql.FieldNode):
            key = sel.alias.value if sel.alias else sel.name.value
            out.setdefault(key, []).append((sel.name.value, sel.selection_set))
        elif isinstance(sel, graphql.InlineFragmentNode):
            for k, v in _selection_map(sel.selection_set, fragments).items():
                out.setdefault(k, []).extend(v)
        elif isinstance(sel, graphql.FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:
                for k, v in _selection_map(frag.selection_set, fragments).items():
                    out.setdefault(k, []).extend(v)
    return out


def _leaks(data: Any, query: str | None) -> list[str]:
    """Paths of non-null admin-only values in `data`."""
    found: list[str] = []
    doc = None
    if query:
        try:
            doc = graphql.parse(query)
        except Exception:  # noqa: BLE001 - an unparsable query still gets the key walk
            doc = None
    fragments = {}
    roots = []
    if doc is not None:
        for d in doc.definitions:
            if isinstance(d, graphql.FragmentDefinitionNode):
                fragments[d.name.value] = d
            elif isinstance(d, graphql.OperationDefinitionNode):
                roots.append(d.selection_set)

    def walk(value: Any, sets: list, path: str, depth: int) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, sets, f"{path}[{i}]", depth)
            return
        if not isinstance(value, dict):
            return
        smap: dict[str, list] = {}
        for s in sets:
            for k, v in _selection_map(s, fragments).items():
                smap.setdefault(k, []).extend(v)
        for key, sub in value.items():
            names = {n for n, _ in smap.get(key, [])} or {key}
            here = f"{path}.{key}" if path else key
            if sub is not None:
                if names & ADMIN_ONLY_FIELDS.keys():
                    found.append(f"{here} (field {sorted(names & ADMIN_ONLY_FIELDS.keys())[0]})")
                if depth == 0 and names & ADMIN_ONLY_ROOTS:
                    found.append(f"{here} (admin-only root {sorted(names & ADMIN_ONLY_ROOTS)[0]})")
            walk(sub, [s for _, s in smap.get(key, []) if s is not None], here, depth + 1)

    walk(data, roots, "", 0)
    return found


def judge(status: int | None, body_text: str | None, query: str | None) -> list[str]:
    """Reasons this exchange breaks the contract; empty when it passes.
    `query` is the GraphQL document; for a batch, the whole request body."""
    if status is None:
        return ["no response (timeout or connection error): server dead or hung"]
    reasons: list[str] = []
    if status >= 500:
        reasons.append(f"HTTP {status}")
    try:
        payload = json.loads(body_text or "")
    except ValueError:
        reasons.append(f"HTTP {status} body is not JSON")
        return reasons
    if isinstance(payload, list) and payload:
        # A batch: one response per operation, each judged on its own.
        queries = queries_of_batch(query)
        for i, item in enumerate(payload):
            q = queries[i] if i < len(queries) else None
            reasons += [f"batch[{i}]: {r}" for r in _judge_payload(item, q)]
        return reasons
    return reasons + _judge_payload(payload, query)


def queries_of_batch(request_text: str | None) -> list:
    try:
        items = json.loads(request_text or "")
    except ValueError:
        return []
    return [_query_of(i) for i in items] if isinstance(items, list) else []


def _judge_payload(payload: Any, query: str | None) -> list[str]:
    reasons: list[str] = []
    if not isinstance(payload, dict):
        reasons.append("response is not a JSON object")
        return reasons
    errors = payload.get("errors") or []
    if not isinstance(errors, list):
        reasons.append("`errors` is not a list")
        errors = []
    for err in errors:
        ext = err.get("extensions") if isinstance(err, dict) else None
        code = ext.get("code") if isinstance(ext, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err
        if not code:
            reasons.append(f"uncoded error: {str(msg)[:200]!r}")
        elif code == "INTERNAL":
            reasons.append(f"INTERNAL error: {str(msg)[:200]!r}")
        if not IS_ADMIN and isinstance(ext, dict) and ext.get("operatorHint") is not None:
            reasons.append(f"operatorHint shown to {ROLE} (code {code})")
    if not IS_ADMIN and payload.get("data") is not None:
        for leak in _leaks(payload["data"], query):
            reasons.append(f"admin-only value for {ROLE}: {leak}")
    return reasons


def _record(entry: dict) -> None:
    if not LOG_PATH:
        return
    line = json.dumps(entry, ensure_ascii=False, default=str)
    with _LOCK, open(LOG_PATH, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _body_text(response) -> str:
    try:
        return (response.content or b"").decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        return ""


def _request_body(request) -> str:
    body = getattr(request, "body", None)
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body or ""


_RESET = """mutation($i: SystemSettingsInput!, $k: String!) {
  updateSystemSettings(input: $i, changeReason: "fuzzer reset", idempotencyKey: $k) { mutationsDisabled } }"""


def _reset_settings() -> None:
    """The admin run may turn the kill switch on or the rate limits down; put
    them back so the rest of the budget still explores (not counted)."""
    import uuid

    import requests

    url = os.environ.get("DXCP_FUZZ_URL")
    token = os.environ.get("DXCP_FUZZ_TOKEN")
    if not (url and token):
        return
    settings = json.loads(os.environ.get("DXCP_FUZZ_SETTINGS") or "{}")
    settings.update({"mutationsDisabled": False, "readRpm": 100000, "mutateRpm": 100000})
    try:
        requests.post(
            url,
            json={"query": _RESET, "variables": {"i": settings, "k": str(uuid.uuid4())}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except requests.RequestException:
        pass


_CALLS = [0]


@schemathesis.hook
def before_call(context, case, **kwargs) -> None:
    # Every other request asks for application/graphql-response+json, where
    # request errors are 4xx; the rest take the default application/json
    # (always 200). Alternating keeps the run deterministic.
    _CALLS[0] += 1
    if _CALLS[0] % 2 == 0:
        if case.headers is None:
            case.headers = {}
        case.headers["Accept"] = "application/graphql-response+json"


@schemathesis.hook
def after_call(context, case, response) -> None:
    # Called once per request sent (checks, by contrast, may be re-run).
    req = response.request
    query = _query_of(case.body)
    text = _body_text(response)
    reasons = judge(response.status_code, text, query)
    if IS_ADMIN and query and "updateSystemSettings" in query:
        _reset_settings()
    _record(
        {
            "role": ROLE,
            "operation": case.operation.label,
            "method": getattr(req, "method", "POST"),
            "url": getattr(req, "url", ""),
            "request": _request_body(req),
            "accept": (getattr(req, "headers", None) or {}).get("Accept", ""),
            "status": response.status_code,
            "response": text[:20000],
            "failures": reasons,
        }
    )


@schemathesis.hook
def after_network_error(context, case, request) -> None:
    _record(
        {
            "role": ROLE,
            "operation": case.operation.label,
            "method": getattr(request, "method", "POST"),
            "url": getattr(request, "url", ""),
            "request": _request_body(request),
            "status": None,
            "response": None,
            "failures": judge(None, None, None),
        }
    )


@schemathesis.check
def dxcp_contract(ctx, response, case):
    """DXCP: no 5xx, every error coded and not INTERNAL, no admin-only value for non-admins."""
    reasons = judge(response.status_code, _body_text(response), _query_of(case.body))
    if reasons:
        raise AssertionError("; ".join(reasons))
    return None


def self_test() -> None:
    """The verdict on known answers, run before every fuzz run so a broken
    judge cannot pass everything silently."""
    global IS_ADMIN, ROLE
    saved = (IS_ADMIN, ROLE)
    IS_ADMIN, ROLE = False, "observer"
    try:
        ok = '{"data":{"viewer":{"role":"OBSERVER"}}}'
        assert judge(200, ok, "{ viewer { role } }") == []
        refused = '{"data":null,"errors":[{"message":"no","extensions":{"code":"ROLE_FORBIDDEN"}}]}'
        assert judge(200, refused, "{ auditEvents { nodes { id } } }") == []
        assert judge(400, '{"errors":[{"message":"x","extensions":{"code":"INVALID_REQUEST"}}]}', None) == []
        assert judge(500, refused, None)
        assert judge(None, None, None)
        assert judge(200, "oops", None)
        assert judge(200, '{"data":null,"errors":[{"message":"x"}]}', None)
        assert judge(200, '{"data":null,"errors":[{"message":"x","extensions":{"code":"INTERNAL"}}]}', None)
        hint = '{"data":null,"errors":[{"message":"x","extensions":{"code":"ENGINE_UNAVAILABLE","operatorHint":"h"}}]}'
        assert judge(200, hint, None)
        query = "{ d: deployments { nodes { x: engineExecutionId } } recipes { deployPipeline } }"
        leak = '{"data":{"d":{"nodes":[{"x":"e-1"}]},"recipes":[{"deployPipeline":null}]}}'
        assert len(judge(200, leak, query)) == 1, judge(200, leak, query)
        frag = "{ recipes { ... on Recipe { s: spinnakerApplication } } }"
        assert judge(200, '{"data":{"recipes":[{"s":"demo-app"}]}}', frag)
        assert judge(200, '{"data":{"systemSettings":{"readRpm":1}}}', "{ systemSettings { readRpm } }")
        batch_req = json.dumps([{"query": "{ viewer { role } }"}, {"query": query}])
        assert judge(200, f'[{ok}, {leak}]', batch_req)
        assert judge(200, f'[{ok}, {ok}]', batch_req) == []
        IS_ADMIN, ROLE = True, "admin"
        assert judge(200, leak, query) == []
        assert judge(200, hint, None) == []
    finally:
        IS_ADMIN, ROLE = saved
