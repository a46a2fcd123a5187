// The contract test: what the server answers must be what docs/openapi.yaml says, and what the docs
// show must work. Run by tests/contract/run.sh, which starts the servers.
//
// Sent, each answer checked against the spec:
//   1. every `curl` line of docs/api.md (and the GET ones of docs/feeds.md), read from the Markdown
//      itself so the docs and the test cannot drift; a placeholder cursor (`...`) is replaced by
//      the next_cursor of the same query's first page. Each must answer 200.
//   2. the spec's own request examples: the parameters of an operation carrying an example named
//      `<operationId>.<name>` form one request (200), the request body examples are pushed (200);
//      each read example again as msgpack, with If-None-Match (304) and as HEAD.
//   3. every parameter at its documented bounds (200) and past them (400 naming it): integers at
//      and past minimum and maximum, enums and booleans in and out, patterns and dates broken,
//      comma lists at and past maxItems;
//   4. error cases: bad and unknown parameters, unknown paths, wrong methods, feeds without a
//      token, with a bad one, with a too narrow one, a bad source name, a stale sequence, a delta
//      without a base, an invalid and a malformed feed, an unsupported content type, a retirement;
//   5. a server with --private-sources and no --tokens: 403 feeds_disabled, anonymous `searched`.
//   6. a server with --keys: 401 without a key or with an unknown one, the RateLimit-* headers on
//      200s, 429 rate_limited past the key's burst (rate=1/h: no token comes back during the test).
// An answer passes when its status is documented for the operation (unknown paths and wrong
// methods: the Error schema), its Content-Type is one the response lists, its body validates
// (ajv, JSON Schema 2020-12, strict) against that content's schema, and every header the response
// documents is valid, and present when `required`. Objects the server writes in full are closed
// (additionalProperties: false): an undocumented field fails, as does a missing required one.
// Also: the served /openapi.json equals the build's, every example in the spec validates against
// its schema, every error code of src/ and loaders/ is listed under its status, and every
// operation of the spec was answered 2xx at least once.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import assert from 'node:assert/strict';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const require = createRequire(path.join(args.modules, 'noop.js'));
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const msgpack = require('@msgpack/msgpack');

const BASE = args.url;
const DOCS_BASE = 'http://127.0.0.1:8080';
let failures = 0;
let checks = 0;
const answered = new Map(); // "METHOD path" -> statuses seen

function fail(what, detail) {
    failures++;
    console.error(`FAIL ${what}\n     ${detail}`);
}

// ------------------------------------------------------------------ the spec

const spec = JSON.parse(fs.readFileSync(args.spec, 'utf8'));

// Schemas: components.schemas become $defs of one schema document; spec refs are rewritten to it.
function rewriteRefs(node) {
    if (Array.isArray(node)) return node.map(rewriteRefs);
    if (node === null || typeof node !== 'object') return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/schemas/', 'spec#/$defs/');
        else if (k === 'example') continue; // OpenAPI's, not JSON Schema's; checked separately below
        else out[k] = rewriteRefs(v);
    }
    return out;
}
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
ajv.addSchema({ $id: 'spec', $defs: rewriteRefs(spec.components.schemas) });
// ajv's own text leaves out which property is extra or missing; say it.
function errorsText(errors) {
    return (errors ?? []).slice(0, 5).map((e) => {
        const extra = e.params?.additionalProperty ?? e.params?.missingProperty;
        return `${e.instancePath || '/'} ${e.message}${extra !== undefined ? ` (${extra})` : ''}`;
    }).join('; ');
}
const compiled = new Map();
function validator(schema) {
    const key = JSON.stringify(schema);
    if (!compiled.has(key)) compiled.set(key, ajv.compile(rewriteRefs(schema)));
    return compiled.get(key);
}
function resolve(obj) {
    while (obj && obj.$ref) {
        obj = obj.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
    }
    return obj;
}

// The operation for a method and a concrete path: the spec path whose template matches.
function operationFor(method, urlPath) {
    for (const [template, item] of Object.entries(spec.paths)) {
        const re = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.') + '$');
        if (re.test(urlPath)) {
            // HEAD is the GET of a read endpoint (info.description); the feed endpoints do not take it
            const head = method === 'HEAD' && item.get && !(item.get.tags ?? []).includes('feeds') ? item.get : undefined;
            const op = item[method.toLowerCase()] ?? head;
            return { template, op, item };
        }
    }
    return { template: null, op: null, item: null };
}

// ------------------------------------------------------------------ one request

// node:http rather than fetch: fetch refuses a GET with a body, which the 413 check sends.
// stream: an answer that does not end (Server-Sent Events): resolve with its first chunk and hang up.
function request(method, url, { headers = {}, body, stream = false } = {}) {
    return new Promise((resolvePromise, reject) => {
        // node sends a GET's body without framing unless told its length
        if (body !== undefined) headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
        const req = http.request(url, { method, headers }, (res) => {
            const chunks = [];
            const streaming = stream && res.statusCode === 200;
            res.on('data', (c) => {
                chunks.push(c);
                if (!streaming) return;
                resolvePromise({
                    status: res.statusCode,
                    headers: { get: (name) => { const v = res.headers[name.toLowerCase()]; return v === undefined ? null : [].concat(v).join(', '); } },
                    bytes: Buffer.concat(chunks),
                });
                req.destroy();
            });
            res.on('end', () => resolvePromise({
                status: res.statusCode,
                headers: { get: (name) => { const v = res.headers[name.toLowerCase()]; return v === undefined ? null : [].concat(v).join(', '); } },
                bytes: Buffer.concat(chunks),
            }));
            res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(10000, () => req.destroy(new Error('no answer in 10 s')));
        req.end(body);
    });
}

function decode(contentType, bytes) {
    if (contentType === 'application/json') return JSON.parse(bytes.toString('utf8'));
    if (contentType === 'application/msgpack') return msgpack.decode(bytes, { useBigInt64: false });
    return bytes.toString('utf8');
}

// Sends one request and checks the answer against the spec. `expect`: the status wanted (or a
// list); `errorCode`/`parameter`: what an error body must say. Returns the decoded body.
async function check(what, method, target, { headers = {}, body, expect, errorCode, parameter, base = BASE, stream = false } = {}) {
    checks++;
    const url = new URL(target, base);
    let res;
    try {
        res = await request(method, url, { headers, body, stream });
    } catch (e) {
        fail(what, `${method} ${url.pathname}${url.search}: ${e.message}`);
        return undefined;
    }
    const where = `${method} ${url.pathname}${url.search} -> ${res.status}`;
    const wanted = expect === undefined ? null : [].concat(expect);
    if (wanted && !wanted.includes(res.status)) {
        fail(what, `${where}, expected ${wanted.join(' or ')}: ${res.bytes.toString('utf8').slice(0, 300)}`);
        return undefined;
    }
    const { template, op } = operationFor(method, url.pathname);
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    let response;
    if (op) {
        const key = `${method === 'HEAD' ? 'GET' : method} ${template}`;
        if (!answered.has(key)) answered.set(key, new Set());
        answered.get(key).add(res.status);
        response = resolve(op.responses[String(res.status)] ?? op.responses.default);
        if (!response) {
            fail(what, `${where}: status ${res.status} is not documented for ${op.operationId}`);
            return undefined;
        }
    } else {
        // No operation: an unknown path (404) or a method the path does not take (405), answered with
        // the Error schema the spec's description names for both.
        if (![404, 405].includes(res.status)) {
            fail(what, `${where}: no operation in the spec for this method and path`);
            return undefined;
        }
        response = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
        if (res.status === 405 && !res.headers.get('allow')) fail(what, `${where}: a 405 without an Allow header`);
    }
    for (const [name, header] of Object.entries(response.headers ?? {})) {
        const h = resolve(header);
        const value = res.headers.get(name);
        if (value === null) {
            if (h.required) fail(what, `${where}: header ${name} is documented as required but absent`);
            continue;
        }
        const parsed = h.schema?.type === 'integer' ? Number(value) : value;
        const v = validator(h.schema ?? {});
        if (!v(parsed)) fail(what, `${where}: header ${name}: ${JSON.stringify(value)} ${errorsText(v.errors)}`);
    }
    if (method === 'HEAD' || !response.content) {
        if (res.bytes.length !== 0) fail(what, `${where}: a body (${res.bytes.length} bytes) where none is documented`);
        return undefined;
    }
    const media = response.content[contentType];
    if (!media) {
        fail(what, `${where}: Content-Type ${contentType || '(none)'} is not one of ${Object.keys(response.content).join(', ')}`);
        return undefined;
    }
    let doc;
    try {
        doc = decode(contentType, res.bytes);
    } catch (e) {
        fail(what, `${where}: the ${contentType} body does not parse: ${e.message}`);
        return undefined;
    }
    const v = validator(media.schema ?? {});
    if (!v(doc)) {
        fail(what, `${where}: the body does not match the schema: ${errorsText(v.errors)}\n     ` +
            `body: ${res.bytes.toString(contentType === 'application/msgpack' ? 'hex' : 'utf8').slice(0, 400)}`);
        return undefined;
    }
    if (errorCode !== undefined && doc?.error?.code !== errorCode)
        fail(what, `${where}: error.code ${doc?.error?.code}, expected ${errorCode}`);
    if (parameter !== undefined && doc?.error?.parameter !== parameter)
        fail(what, `${where}: error.parameter ${doc?.error?.parameter}, expected ${parameter}`);
    return { doc, headers: res.headers };
}

// ------------------------------------------------------------------ helpers over the spec

function queryString(params) {
    return Object.entries(params)
        .map(([k, v]) => `${encodeURIComponent(k)}=${Array.isArray(v) ? v.map(encodeURIComponent).join(',') : encodeURIComponent(String(v))}`)
        .join('&');
}

// Every GET operation with its query parameters (resolved).
function getOperations() {
    const out = [];
    for (const [template, item] of Object.entries(spec.paths)) {
        if (!item.get) continue;
        const params = [...(item.parameters ?? []), ...(item.get.parameters ?? [])].map(resolve);
        out.push({ template, op: item.get, params });
    }
    return out;
}

// The request examples of an operation: name -> {query, pathParams}.
function requestExamples({ op, params }) {
    const byName = new Map();
    for (const p of params) {
        for (const [key, ex] of Object.entries(p.examples ?? {})) {
            const [opId, name] = key.split('.');
            if (opId !== op.operationId) continue;
            if (!byName.has(name)) byName.set(name, { query: {}, pathParams: {} });
            const value = resolve(ex).value;
            if (p.in === 'query') byName.get(name).query[p.name] = value;
            else if (p.in === 'path') byName.get(name).pathParams[p.name] = value;
        }
    }
    return byName;
}

function fillPath(template, pathParams) {
    return template.replace(/\{([^}]+)\}/g, (_, n) => encodeURIComponent(pathParams[n]));
}

// ------------------------------------------------------------------ the checks

async function waitReady(base) {
    for (let i = 0; i < 200; i++) {
        try {
            const r = await request('GET', new URL('/readyz', base));
            if (r.status === 200) return;
        } catch { /* not listening yet */ }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${base} never became ready`);
}

async function servedSpec() {
    const built = fs.readFileSync(args.spec);
    const res = await request('GET', new URL('/openapi.json', BASE));
    checks++;
    if (res.status !== 200 || !res.bytes.equals(built))
        fail('GET /openapi.json', `status ${res.status}, ${res.bytes.length} bytes; the build's openapi.json has ${built.length}`);
    const r = await check('/openapi.json', 'GET', '/openapi.json', { expect: 200 });
    const etag = r?.headers.get('etag');
    await check('/openapi.json with If-None-Match', 'GET', '/openapi.json', { headers: { 'If-None-Match': etag }, expect: 304 });
}

// Every example in the spec validates against the schema beside it.
function specExamples() {
    const visit = (node, where) => {
        if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${where}/${i}`));
        if (node === null || typeof node !== 'object') return;
        if (node.schema && typeof node.schema === 'object') {
            const examples = [];
            if ('example' in node) examples.push(node.example);
            for (const ex of Object.values(node.examples ?? {})) examples.push(resolve(ex).value);
            for (const ex of examples) {
                checks++;
                const v = validator(node.schema);
                if (!v(ex)) fail(`example at ${where}`, errorsText(v.errors));
            }
        }
        for (const [k, v] of Object.entries(node)) if (k !== 'schema') visit(v, `${where}/${k}`);
    };
    visit(spec.paths, '#/paths');
    visit(spec.components, '#/components');
}

// docs/api.md and docs/feeds.md: the curl lines of their ```sh blocks.
function docRequests(file) {
    const text = fs.readFileSync(file, 'utf8');
    const out = [];
    let inSh = false;
    let line = '';
    for (const raw of text.split('\n')) {
        if (/^```/.test(raw)) {
            inSh = !inSh && /^```(sh|bash|shell)\s*$/.test(raw);
            continue;
        }
        if (!inSh) continue;
        line += raw.replace(/\\$/, ' ');
        if (/\\$/.test(raw)) continue;
        const cmd = line.trim();
        line = '';
        if (!cmd.startsWith('curl ')) continue;
        const url = cmd.match(/'?(http:\/\/127\.0\.0\.1:8080[^\s']*)'?/)?.[1];
        if (!url) continue;
        const method = cmd.match(/-X\s+([A-Z]+)/)?.[1] ?? 'GET';
        const headers = {};
        for (const m of cmd.matchAll(/-H\s+(['"])(.*?)\1/g)) {
            const [name, ...rest] = m[2].split(':');
            headers[name.trim()] = rest.join(':').trim();
        }
        // a body given inline (-d '...' or --data '...'), sent as it is; @file bodies are not
        const inline = cmd.match(/(?:-d|--data(?:-binary)?)\s+'([^'@][^']*)'/)?.[1];
        out.push({ cmd, url, method, headers, body: /--data|-d /.test(cmd), inline });
    }
    return out;
}

async function docsExamples() {
    const apiDoc = docRequests('docs/api.md');
    assert.ok(apiDoc.length >= 5, `docs/api.md: only ${apiDoc.length} curl lines found`);
    for (const r of apiDoc) {
        let target = r.url.slice(DOCS_BASE.length);
        const placeholder = target.match(/cursor=([^&]*\.\.\.)/);
        if (placeholder) {
            // the docs' cursor stands for "the next_cursor of the first page": fetch that page
            const first = await check(`docs/api.md: ${r.cmd} (first page)`, 'GET', target.replace(/&?cursor=[^&]*/, ''), { expect: 200 });
            if (!first?.doc?.next_cursor) {
                fail(`docs/api.md: ${r.cmd}`, 'the first page has no next_cursor, so the paging example shows nothing');
                continue;
            }
            target = target.replace(placeholder[1], first.doc.next_cursor);
        }
        // pushes shown beside the watches (the spec's own examples cover the feed operations)
        if (/\/v1\/feeds\//.test(r.url) && r.method !== 'GET') continue;
        // watches: a creation answers 201, a deletion 204, an event stream (curl -N) 200 and never ends
        // (POST /v1/trips is a read: 200)
        const expect = r.method === 'POST' && !r.url.includes('/v1/trips') ? 201 : r.method === 'DELETE' ? 204 : 200;
        await check(`docs/api.md: ${r.cmd}`, r.method, target,
            { headers: r.headers, body: r.inline, expect, stream: / -N /.test(r.cmd) });
    }
    // docs/feeds.md: its status requests (the pushes send files the docs do not ship, and the
    // retirement would remove a source; the spec's own examples cover those operations)
    const feedDoc = docRequests('docs/feeds.md').filter((r) => r.method === 'GET' && !r.body);
    assert.ok(feedDoc.length >= 2, `docs/feeds.md: only ${feedDoc.length} GET curl lines found`);
    for (const r of feedDoc) {
        const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.replace('$TOKEN', args['admin-token'])]));
        await check(`docs/feeds.md: ${r.cmd}`, 'GET', r.url.slice(DOCS_BASE.length), { headers, expect: 200 });
    }
}

async function readExamples() {
    const auth = { Authorization: `Bearer ${args['admin-token']}` };
    for (const entry of getOperations()) {
        for (const [name, ex] of requestExamples(entry)) {
            const target = fillPath(entry.template, ex.pathParams) + (Object.keys(ex.query).length ? `?${queryString(ex.query)}` : '');
            const what = `example ${entry.op.operationId}.${name}`;
            const secured = (entry.op.security ?? spec.security ?? []).every((s) => Object.keys(s).length > 0);
            const headers = secured ? auth : {};
            const r = await check(what, 'GET', target, { headers, expect: 200 });
            if (!r) continue;
            const types = Object.keys(resolve(entry.op.responses['200']).content ?? {});
            if (types.includes('application/msgpack'))
                await check(`${what} as msgpack`, 'GET', target, { headers: { ...headers, Accept: 'application/msgpack' }, expect: 200 });
            if (!secured) // the read endpoints take HEAD; the feed endpoints do not
                await check(`${what} as HEAD`, 'HEAD', target, { headers, expect: 200 });
            const etag = r.headers.get('etag');
            if (resolve(entry.op.responses['200']).headers?.ETag)
                await check(`${what} with If-None-Match`, 'GET', target, { headers: { ...headers, 'If-None-Match': etag }, expect: 304 });
        }
    }
    // operations without parameters: once each, with their msgpack form where there is one
    for (const p of ['/healthz', '/readyz', '/metrics']) {
        await check(`GET ${p}`, 'GET', p, { expect: 200 });
        await check(`GET ${p} as msgpack`, 'GET', p, { headers: { Accept: 'application/msgpack' }, expect: 200 });
    }
}

// Integer parameters at and past their bounds; enum parameters outside their enum.
async function parameterBounds() {
    for (const entry of getOperations()) {
        const examples = requestExamples(entry);
        if (examples.size === 0) continue;
        const base = [...examples.values()][0].query;
        for (const p of entry.params) {
            if (p.in !== 'query') continue;
            const s = resolve(p.schema);
            const send = async (value, expect, why) => {
                const q = { ...base, [p.name]: value };
                // a connection window must stay ordered while one end moves
                if (p.name === 'min_connection') q.max_connection = 2880;
                if (p.name === 'max_connection') q.min_connection = 0;
                // and a stay window while one of its ends moves
                if (p.name === 'min_stay') q.max_stay = 90;
                if (p.name === 'max_stay') q.min_stay = 0;
                // a range end needs the other end, and no single date beside it
                if (p.name === 'start_date' || p.name === 'end_date') {
                    delete q.date;
                    q.start_date ??= '2026-12-01';
                    q.end_date ??= '2026-12-07';
                }
                await check(`${entry.op.operationId}: ${p.name}=${value} (${why})`, 'GET', `${entry.template}?${queryString(q)}`,
                    expect === 400 ? { expect, errorCode: 'invalid_parameter', parameter: p.name } : { expect });
            };
            if (s.type === 'integer' && s.enum === undefined) {
                if (s.minimum !== undefined) {
                    await send(s.minimum, 200, 'the documented minimum');
                    if (s.minimum > 0) await send(s.minimum - 1, 400, 'below the minimum');
                }
                if (s.maximum !== undefined) {
                    await send(s.maximum, 200, 'the documented maximum');
                    await send(s.maximum + 1, 400, 'above the maximum');
                }
            }
            if (s.enum !== undefined) {
                for (const value of s.enum) await send(value, 200, 'a documented value');
                await send(s.type === 'integer' ? 7 : 'nonsense', 400, 'not in the enum');
            }
            if (s.type === 'boolean') {
                await send(true, 200, 'a boolean');
                await send('maybe', 400, 'not a boolean');
            }
            if (s.type === 'string' && (s.pattern !== undefined || s.format !== undefined))
                await send(s.format === 'date' ? '2026-02-30' : '!', 400, `not a ${s.format ?? 'match of its pattern'}`);
            if (s.type === 'array' && s.maxItems !== undefined) {
                // distinct values of the item's shape: AAA, AAB, ... / A0, A1, ... / s0, s1, ...
                const item = resolve(s.items);
                const make = (i) => item.pattern === '^[A-Z]{3}$' ? `AA${String.fromCharCode(65 + i)}`
                    : item.pattern === '^[A-Z0-9]{2}$' ? `A${i.toString(36).toUpperCase()}` : `s${i}`;
                const list = (n) => Array.from({ length: n }, (_, i) => make(i));
                await send(list(s.maxItems), 200, `${s.maxItems} items, the documented maximum`);
                await send(list(s.maxItems + 1), 400, `${s.maxItems + 1} items, above the maximum`);
                await send([make(0), '!'], 400, 'an item that does not match');
            }
        }
    }
}

async function errorCases() {
    const admin = { Authorization: `Bearer ${args['admin-token']}` };
    const tap = { Authorization: `Bearer ${args['tap-token']}` };
    const json = { 'Content-Type': 'application/json' };
    // read endpoints
    await check('a date that does not exist', 'GET', '/v1/search?origin=GRU&destination=LIS&date=2026-02-30',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'date' });
    await check('an unknown parameter', 'GET', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05&cabn=business',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'cabn' });
    await check('a repeated parameter', 'GET', '/v1/search?origin=GRU&origin=GIG&destination=LIS&date=2026-12-05',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'origin' });
    await check('search without a date', 'GET', '/v1/search?origin=GRU&destination=LIS',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'date' });
    await check('calendar without its range', 'GET', '/v1/calendar?origin=GRU&destination=LIS',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'start_date' });
    await check('routes from a city code alone', 'GET', '/v1/routes?origin=SAO',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'origin' });
    // 2m.100000.29942035.tap.1069.101.4518.20792.2: a cursor of sort=miles (src/query.c)
    await check('a cursor of another sort', 'GET',
        '/v1/search?origin=GRU&destination=LIS&date=2026-12-05&sort=duration&cursor=Mm0uMTAwMDAwLjI5OTQyMDM1LnRhcC4xMDY5LjEwMS40NTE4LjIwNzkyLjI',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'cursor' });
    await check('a cursor of the first format', 'GET', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05&cursor=bS4x',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'cursor' });
    // trips: the return before the outbound, one slice, a grid range past 31 days
    await check('a return before the outbound', 'GET', '/v1/trips?origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-01',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'return_date' });
    await check('a trip of one slice', 'POST', '/v1/trips',
        { headers: json, body: '{"slices": [{"origin": "GRU", "destination": "LIS", "date": "2026-12-05"}]}', expect: 400,
          errorCode: 'invalid_parameter', parameter: 'slices' });
    await check('a grid of 32 outbound dates', 'GET',
        '/v1/calendar/trips?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-01-01&return_start_date=2026-12-10&return_end_date=2026-12-20',
        { expect: 400, errorCode: 'invalid_parameter', parameter: 'end_date' });
    await check('an unknown path', 'GET', '/v2/search', { expect: 404, errorCode: 'not_found' });
    await check('a body on a read endpoint', 'GET', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05',
        { headers: { 'Content-Type': 'text/plain' }, body: 'abc', expect: 413, errorCode: 'body_not_allowed' });
    for (const p of ['/healthz', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05', '/v1/feeds'])
        await check(`17 KiB of headers on ${p}`, 'GET', p,
            { headers: { 'X-Padding': 'x'.repeat(17 * 1024) }, expect: 431, errorCode: 'request_headers_too_large' });
    await check('POST on a read endpoint', 'POST', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05',
        { expect: 405, errorCode: 'method_not_allowed' });
    // feeds
    await check('GET on a push path', 'GET', '/v1/feeds/tap/snapshot', { expect: 405, errorCode: 'method_not_allowed' });
    await check('HEAD on the feed list', 'HEAD', '/v1/feeds', { expect: 405 });
    await check('feeds without a token', 'GET', '/v1/feeds', { expect: 401, errorCode: 'unauthorized' });
    await check('feeds with an unknown token', 'GET', '/v1/feeds/tap',
        { headers: { Authorization: 'Bearer not-a-known-token-0000' }, expect: 401, errorCode: 'unauthorized' });
    await check('a push without a token', 'PUT', '/v1/feeds/tap/snapshot', { headers: json, body: '{}', expect: 401, errorCode: 'unauthorized' });
    await check('a token outside its scope', 'GET', '/v1/feeds/latam', { headers: tap, expect: 403, errorCode: 'forbidden' });
    await check('a retirement without scope *', 'DELETE', '/v1/feeds/tap', { headers: tap, expect: 403, errorCode: 'forbidden' });
    await check('a bad source name', 'GET', '/v1/feeds/Not_Valid', { headers: admin, expect: 400, errorCode: 'invalid_source', parameter: 'source' });
    await check('an unknown source', 'GET', '/v1/feeds/nosuchsource', { headers: admin, expect: 404, errorCode: 'unknown_source' });
    await check('a push of an unsupported type', 'PUT', '/v1/feeds/tap/snapshot',
        { headers: { ...admin, 'Content-Type': 'text/plain' }, body: 'x', expect: 415, errorCode: 'unsupported_media_type' });
    await check('a malformed feed', 'PUT', '/v1/feeds/tap/snapshot',
        { headers: { ...admin, ...json }, body: '{"source": "tap", ', expect: 400, errorCode: 'malformed_feed' });
    await check('a stale sequence', 'PUT', '/v1/feeds/tap/snapshot',
        { headers: { ...admin, ...json }, body: JSON.stringify({ source: 'tap', sequence: 1, generated_at: '2026-11-21T20:00:00Z', legs: [] }),
          expect: 409, errorCode: 'stale_sequence' });
    await check('a delta without a base', 'POST', '/v1/feeds/newsource/deltas',
        { headers: { ...admin, ...json }, body: JSON.stringify({ source: 'newsource', sequence: 1, generated_at: '2026-11-21T20:00:00Z' }),
          expect: 409, errorCode: 'no_base' });
    await check('an invalid feed', 'PUT', '/v1/feeds/tap/snapshot',
        { headers: { ...admin, ...json }, expect: 422, errorCode: 'invalid_feed',
          body: JSON.stringify({ source: 'tap', sequence: 99, generated_at: '2026-11-21T20:00:00Z',
              legs: [{ carrier: 'TP', flight: 1, origin: 'GRU', destination: 'LIS', departs_at: '2026-12-01T21:35:00-03:00',
                  arrives_at: '2026-12-02T11:05:00+00:00', cabins: { economy: { seats: 1, miles: 0, taxes_cents: 0, currency: 'EUR' } } }] }) });
    // the refusals above show in the status, with last_refused
    await check('feed status after refusals', 'GET', '/v1/feeds/tap', { headers: admin, expect: 200 });
    await check('feed list after refusals', 'GET', '/v1/feeds', { headers: admin, expect: 200 });
}

// Watches: the request example creates one (201), it is listed, read, streamed and deleted; and
// the refusals (a bad field, an unknown watch, a bad Last-Event-ID).
async function watchCases() {
    const json = { 'Content-Type': 'application/json' };
    const example = spec.paths['/v1/watches'].post.requestBody.content['application/json'].example;
    const created = await check('example createWatch', 'POST', '/v1/watches', { headers: json, body: JSON.stringify(example), expect: 201 });
    const id = created?.doc?.id;
    if (!id) return;
    await check('list watches', 'GET', '/v1/watches', { expect: 200 });
    await check('one watch', 'GET', `/v1/watches/${id}`, { expect: 200 });
    await check('one watch as HEAD', 'HEAD', `/v1/watches/${id}`, { expect: 200 });
    await check('a watch\'s events', 'GET', `/v1/watches/${id}/events`, { expect: 200, stream: true });
    await check('every event, from the start', 'GET', '/v1/events', { headers: { 'Last-Event-ID': '0' }, expect: 200, stream: true });
    await check('a bad Last-Event-ID', 'GET', '/v1/events', { headers: { 'Last-Event-ID': 'x' }, expect: 400, errorCode: 'invalid_parameter' });
    await check('a watch with a bad field', 'POST', '/v1/watches',
        { headers: json, body: JSON.stringify({ ...example, seats: 0 }), expect: 400, errorCode: 'invalid_parameter', parameter: 'seats' });
    await check('a watch that is not JSON', 'POST', '/v1/watches', { headers: json, body: 'origin=GRU', expect: 400, errorCode: 'invalid_parameter' });
    await check('a watch body over 16 KiB', 'POST', '/v1/watches',
        { headers: json, body: ' '.repeat(17 * 1024), expect: 413, errorCode: 'body_too_large' });
    await check('delete the watch', 'DELETE', `/v1/watches/${id}`, { expect: 204 });
    await check('delete it again', 'DELETE', `/v1/watches/${id}`, { expect: 404, errorCode: 'not_found' });
    await check('an unknown watch', 'GET', `/v1/watches/${id}`, { expect: 404, errorCode: 'not_found' });
    await check('an unknown watch\'s events', 'GET', `/v1/watches/${id}/events`, { expect: 404, errorCode: 'not_found' });
    await check('a wrong method on watches', 'PUT', '/v1/watches', { expect: 405 });
}

// The request body examples of the spec, pushed in order (snapshot, then delta), then the
// retirement of their source.
async function pushExamples() {
    const admin = { Authorization: `Bearer ${args['admin-token']}` };
    const pushes = [];
    for (const [template, item] of Object.entries(spec.paths)) {
        for (const method of ['put', 'post']) {
            const op = item[method];
            const media = op?.requestBody?.content?.['application/json'];
            if (!media?.example || !template.startsWith('/v1/feeds/')) continue; // watchCases sends the watch's
            const v = validator(media.schema);
            checks++;
            if (!v(media.example)) fail(`request example of ${op.operationId}`, errorsText(v.errors));
            pushes.push({ template, method: method.toUpperCase(), op, example: media.example });
        }
    }
    assert.ok(pushes.length >= 2, 'the spec has no push examples');
    pushes.sort((a, b) => a.example.sequence - b.example.sequence);
    for (const p of pushes) {
        const target = fillPath(p.template, { source: p.example.source });
        const body = JSON.stringify(p.example);
        const headers = { ...admin, 'Content-Type': 'application/json' };
        const r = await check(`example ${p.op.operationId}`, p.method, target, { headers, body, expect: 200 });
        if (r && r.doc.duplicate !== undefined) fail(`example ${p.op.operationId}`, 'a first push answered duplicate');
        const again = await check(`example ${p.op.operationId}, sent again`, p.method, target, { headers, body, expect: 200 });
        if (again && again.doc.duplicate !== true) fail(`example ${p.op.operationId}, sent again`, 'no "duplicate": true');
        // the same document as msgpack is a different body at the same sequence: stale
        await check(`example ${p.op.operationId} as msgpack`, p.method, target,
            { headers: { ...admin, 'Content-Type': 'application/msgpack' }, body: msgpack.encode(p.example), expect: 409, errorCode: 'stale_sequence' });
    }
    const source = pushes[0].example.source;
    await check('retire a source', 'DELETE', `/v1/feeds/${source}`, { headers: admin, expect: 200 });
    await check('retire it again', 'DELETE', `/v1/feeds/${source}`, { headers: admin, expect: 404, errorCode: 'unknown_source' });
    await check('feed list after the retirement', 'GET', '/v1/feeds', { headers: admin, expect: 200 });
}

async function privateServer() {
    const base = args['private-url'];
    await waitReady(base);
    await check('private: feeds without --tokens', 'GET', '/v1/feeds', { base, expect: 403, errorCode: 'feeds_disabled' });
    await check('private: a push without --tokens', 'PUT', '/v1/feeds/tap/snapshot',
        { base, headers: { 'Content-Type': 'application/json' }, body: '{}', expect: 403, errorCode: 'feeds_disabled' });
    const r = await check('private: search', 'GET', '/v1/search?origin=GRU&destination=LIS&date=2026-12-05', { base, expect: 200 });
    if (r && !(r.doc.searched.length > 0 && r.doc.searched.every((s) => Object.keys(s).join() === 'legs')))
        fail('private: search', `searched should carry legs only: ${JSON.stringify(r.doc.searched)}`);
    await check('private: calendar as msgpack', 'GET', '/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-10',
        { base, headers: { Accept: 'application/msgpack' }, expect: 200 });
    await check('private: metrics', 'GET', '/metrics', { base, expect: 200 });
    // without --tokens the listener takes bodies up to 64 KiB; libh2o answers a larger one itself
    await check('private: a body over the limit', 'PUT', '/v1/feeds/tap/snapshot',
        { base, headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(65 * 1024), expect: 413 });
}

async function keyedServer() {
    const base = args['keyed-url'];
    await waitReady(base);
    const key = { Authorization: `Bearer ${args['api-key']}` };
    const search = '/v1/search?origin=GRU&destination=LIS&date=2026-12-05';
    await check('keyed: a read without a key', 'GET', search, { base, expect: 401, errorCode: 'unauthorized' });
    await check('keyed: a read with an unknown key', 'GET', '/v1/routes?origin=GRU',
        { base, headers: { Authorization: 'Bearer not-a-key-0123456789abcdef' }, expect: 401, errorCode: 'unauthorized' });
    await check('keyed: /metrics needs no key', 'GET', '/metrics', { base, expect: 200 });
    await check('keyed: /openapi.json needs no key', 'GET', '/openapi.json', { base, expect: 200 });
    // burst=2: two pass, counting down, then 429; a token comes back only after an hour
    const paths = [search, '/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-10'];
    for (const [i, target] of paths.entries()) {
        const r = await check(`keyed: read ${i + 1} with the key`, 'GET', target, { base, headers: key, expect: 200 });
        checks++;
        if (r && (r.headers.get('ratelimit-limit') !== '2' || r.headers.get('ratelimit-remaining') !== String(1 - i)))
            fail(`keyed: read ${i + 1} with the key`, `RateLimit-Limit ${r.headers.get('ratelimit-limit')}, ` +
                `RateLimit-Remaining ${r.headers.get('ratelimit-remaining')}, expected 2 and ${1 - i}`);
    }
    const r = await check('keyed: past the burst', 'GET', '/v1/routes?origin=GRU', { base, headers: key, expect: 429, errorCode: 'rate_limited' });
    checks++;
    if (r && !(Number(r.headers.get('retry-after')) > 3000 && r.headers.get('ratelimit-remaining') === '0'))
        fail('keyed: past the burst', `Retry-After ${r.headers.get('retry-after')} (a token an hour), ` +
            `RateLimit-Remaining ${r.headers.get('ratelimit-remaining')}`);
}

// Every error code the C sources can answer over HTTP, with its status, is one the spec lists for a
// response of that status (or, for 404 and 405, in the Error schema the spec gives unknown paths and
// wrong methods). Read from the calls themselves, so a new code or status cannot go unlisted.
function errorCodesInSource() {
    const found = []; // [status, code, where]
    const files = ['src', 'loaders'].flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.c')).map((f) => `${d}/${f}`));
    for (const file of files) {
        const text = fs.readFileSync(file, 'utf8');
        for (const m of text.matchAll(/(?:fs_send_error\([a-z>-]+|answer_error\(f, job), (\d+), "([a-z_]+)"/g))
            found.push([Number(m[1]), m[2], file]);
        // feeds.c picks a 503 code into a variable before one fs_send_error(req, 503, code, ...)
        if (/fs_send_error\(req, 503, code,/.test(text))
            for (const m of text.matchAll(/code = "([a-z_]+)"/g)) found.push([503, m[1], file]);
        // send_doc's out-of-memory answer is a literal body
        for (const m of text.matchAll(/status = (\d+);\s*body = h2o_iovec_init\(H2O_STRLIT\("\{\\"error\\": \{\\"code\\": \\"([a-z_]+)/g))
            found.push([Number(m[1]), m[2], file]);
        // the decoder's refusals: answer_feed_errors sends 400 when malformed, else 422
        if (/jw_str\(&w, errs->malformed \? "malformed_feed" : "invalid_feed"\)/.test(text))
            found.push([400, 'malformed_feed', file], [422, 'invalid_feed', file]);
    }
    checks++;
    if (found.length < 25) fail('error codes in the sources', `only ${found.length} error answers found: has the code changed shape?`);
    const admitted = new Map(); // status -> Set of codes the spec admits
    const allCodes = spec.components.schemas.Error.properties.error.properties.code.enum;
    const admit = (status, codes) => {
        if (!admitted.has(status)) admitted.set(status, new Set());
        codes.forEach((c) => admitted.get(status).add(c));
    };
    admit(404, ['not_found']);
    admit(405, ['method_not_allowed']);
    for (const item of Object.values(spec.paths))
        for (const op of Object.values(item))
            for (const [status, r] of Object.entries(op?.responses ?? {})) {
                for (const media of Object.values(resolve(r).content ?? {})) {
                    const overlay = (media.schema?.allOf ?? []).find((x) => x.properties?.error);
                    const code = overlay?.properties.error.properties?.code;
                    if (code) admit(Number(status), code.enum ?? [code.const]);
                    else if (media.schema?.$ref === '#/components/schemas/Error') admit(Number(status), allCodes);
                }
            }
    for (const [status, code, file] of found) {
        checks++;
        if (!allCodes.includes(code)) fail(`error code ${code}`, `${file} answers it, the Error schema does not list it`);
        else if (!admitted.get(status)?.has(code)) fail(`error code ${code}`, `${file} answers it with ${status}, no ${status} response of the spec lists it`);
    }
}

// Every operation of the spec answered 2xx at least once.
function coverage() {
    for (const [template, item] of Object.entries(spec.paths)) {
        for (const method of ['get', 'put', 'post', 'delete']) {
            if (!item[method]) continue;
            const seen = answered.get(`${method.toUpperCase()} ${template}`) ?? new Set();
            checks++;
            if (![...seen].some((s) => s >= 200 && s < 300))
                fail(`coverage of ${item[method].operationId}`, `${method.toUpperCase()} ${template} never answered 2xx (seen: ${[...seen].join(', ') || 'nothing'})`);
        }
    }
}

await waitReady(BASE);
specExamples();
errorCodesInSource();
await servedSpec();
await docsExamples();
await readExamples();
await parameterBounds();
await errorCases();
await watchCases();
await pushExamples();
await privateServer();
await keyedServer();
coverage();
for (const [op, statuses] of answered) console.log(`contract: ${op}: ${[...statuses].sort().join(' ')}`);
console.log(`contract: ${checks} checks, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
