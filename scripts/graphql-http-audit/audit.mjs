// GraphQL-over-HTTP conformance audit of DXCP's /graphql (GRAPHQL-PRACTICE §14.1).
//
//   node audit.mjs http://127.0.0.1:8080/graphql [token]
//
// Every audit sends `{ __typename }`-style requests; DXCP authenticates
// before anything else (401 without a token), so each request carries
// `Authorization: Bearer <token>` (default: the dev admin token). Prints
// every result that is not ok and a summary line; exits non-zero on any
// error or warning (the goal is 0 errors and 0 warnings; notices are the
// spec's "MAY" items and are only listed).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const token = process.argv[3] ?? process.env.DXCP_AUDIT_TOKEN ?? 'dxcp-dev-admin';
if (!url) {
  console.error('usage: node audit.mjs <graphql url> [token]');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  if (result.status === 'ok') continue;
  let detail = '';
  if (result.response) {
    try {
      detail = ` [HTTP ${result.response.status} ${result.response.headers.get('content-type') ?? ''}: ${(await result.response.text()).slice(0, 300)}]`;
    } catch {
      // The body was already read by the audit.
      detail = ` [HTTP ${result.response.status}]`;
    }
  }
  console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${String(result.reason ?? '')}${detail}`);
}
console.log(
  `graphql-http audit: ${results.length} audits, ${counts.ok} ok, ${counts.warn} warn, ${counts.error} error, ${counts.notice} notice`,
);
process.exit(counts.error > 0 || counts.warn > 0 ? 1 : 0);
