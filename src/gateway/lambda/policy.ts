/**
 * An authorizer's answer, judged as API Gateway judges it: an IAM policy (explicit Deny wins over Allow; no
 * matching Allow is an implicit deny; `*` and `?` wildcards in Action and Resource; NotAction and NotResource
 * apply a statement to what they do not name), or for payload 2.0 with simple responses `{isAuthorized, context}`.
 * A result of any other shape is an authorizer configuration error.
 */

export interface Statement {
  effect: 'Allow' | 'Deny';
  actions: RegExp[];
  /** `NotAction`: the statement applies to every action the patterns do not match. */
  notAction: boolean;
  resources: RegExp[];
  /** `NotResource`: the statement applies to every resource the patterns do not match. */
  notResource: boolean;
}

/** A checked result, ready to judge any request's ARN (a cached one judges the requests after it). */
export type Decision = (
  | { kind: 'policy'; principalId: string; statements: Statement[] }
  | { kind: 'simple'; isAuthorized: boolean; principalId: null }
) & {
  context: Record<string, unknown>;
  /** The context as backend headers, made once: a cached decision serves many requests. */
  headers: [string, string][];
};

export type Verdict = 'allow' | 'explicit-deny' | 'implicit-deny';

/** `*` any run of characters, `?` any one: IAM's wildcards; everything else literal. */
export function wildcard(pattern: string, caseInsensitive = false): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}

const asList = (v: unknown): unknown[] | null =>
  typeof v === 'string' ? [v] : Array.isArray(v) && v.length > 0 ? v : null;

export class BadResult extends Error {}

/**
 * Check an authorizer's result. REST (1.0) context values must be strings, numbers or booleans, as API Gateway
 * requires; 2.0 takes any JSON value.
 */
export function parseResult(r: unknown, o: { version: '1.0' | '2.0'; simple: boolean }): Decision {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new BadResult('result is not an object');
  const res = r as Record<string, unknown>;
  const context = parseContext(res.context, o.version);
  if (o.simple) {
    if (typeof res.isAuthorized !== 'boolean') throw new BadResult('isAuthorized is not a boolean');
    return {
      kind: 'simple',
      isAuthorized: res.isAuthorized,
      principalId: null,
      context,
      headers: contextHeaders(context),
    };
  }
  const principalId = res.principalId;
  if (typeof principalId !== 'string' && typeof principalId !== 'number') throw new BadResult('principalId is missing');
  const doc = res.policyDocument;
  if (doc === null || typeof doc !== 'object') throw new BadResult('policyDocument is missing');
  const raw = (doc as Record<string, unknown>).Statement;
  const list = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? [raw] : null;
  if (list === null) throw new BadResult('policyDocument.Statement is missing');
  const statements = list.map((s, i): Statement => {
    if (s === null || typeof s !== 'object') throw new BadResult(`Statement[${i}] is not an object`);
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw new BadResult(`Statement[${i}].Effect is not Allow or Deny`);
    const action = element(st, i, 'Action', 'NotAction');
    const resource = element(st, i, 'Resource', 'NotResource');
    return {
      effect: st.Effect,
      // IAM matches action names case-insensitively, resources (ARNs) exactly.
      actions: action.patterns.map((a) => wildcard(a, true)),
      notAction: action.not,
      resources: resource.patterns.map((a) => wildcard(a)),
      notResource: resource.not,
    };
  });
  return { kind: 'policy', principalId: String(principalId), statements, context, headers: contextHeaders(context) };
}

/** A statement's `Action` or `NotAction` (`Resource` or `NotResource`): exactly one of the two, as IAM requires. */
function element(
  st: Record<string, unknown>,
  i: number,
  name: 'Action' | 'Resource',
  notName: 'NotAction' | 'NotResource',
): { patterns: string[]; not: boolean } {
  if (st[name] !== undefined && st[notName] !== undefined)
    throw new BadResult(`Statement[${i}] has both ${name} and ${notName}`);
  const not = st[notName] !== undefined;
  const list = asList(not ? st[notName] : st[name]);
  if (!list || !list.every((a) => typeof a === 'string'))
    throw new BadResult(`Statement[${i}].${not ? notName : name} is missing`);
  return { patterns: list as string[], not };
}

function parseContext(v: unknown, version: '1.0' | '2.0'): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadResult('context is not an object');
  const ctx = v as Record<string, unknown>;
  if (version === '1.0') {
    for (const k in ctx) {
      const t = typeof ctx[k];
      if (ctx[k] !== null && t !== 'string' && t !== 'number' && t !== 'boolean')
        throw new BadResult(`context.${k} is not a string, number or boolean`);
    }
  }
  return ctx;
}

const INVOKE = 'execute-api:Invoke';

/** The decision for one request's methodArn (routeArn). */
export function judge(d: Decision, arn: string): Verdict {
  if (d.kind === 'simple') return d.isAuthorized ? 'allow' : 'implicit-deny';
  let allowed = false;
  for (const s of d.statements) {
    // With NotAction / NotResource a statement applies where its patterns do not match.
    if (s.actions.some((a) => a.test(INVOKE)) === s.notAction) continue;
    if (s.resources.some((r) => r.test(arn)) === s.notResource) continue;
    if (s.effect === 'Deny') return 'explicit-deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

/** `x-authorizer-<key>` headers for the backend: lowercase token names, values without control characters. */
export function contextHeaders(context: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const key in context) {
    const v = context[key];
    if (v === undefined) continue;
    const name = `x-authorizer-${key.toLowerCase().replace(/[^a-z0-9!#$%&'*+.^_`|~-]/g, '-')}`;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    // Visible ASCII and space only: a CR/LF (or any control) would split the header, other bytes Node refuses.
    const value = text.replace(/[^\x20-\x7e]/gu, (ch) => (/[\x00-\x1f\x7f]/.test(ch) ? '' : percent(ch)));
    out.push([name, value]);
  }
  return out;
}

/** A lone surrogate cannot be percent-encoded as UTF-8: it becomes `?`. */
function percent(ch: string): string {
  try {
    return encodeURIComponent(ch);
  } catch {
    return '?';
  }
}
