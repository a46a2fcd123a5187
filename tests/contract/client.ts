// A frontend's first contact with the API, as tests/contract/run.sh replays it: types generated
// from the served /openapi.json by openapi-typescript, a client from openapi-fetch, a strict tsc
// compile of this file (a field used here that the spec lacks fails the build), then searches
// whose answers must equal the same queries written by hand as docs/api.md shows them.
//
//   node client.js BASE_URL
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

const base = process.argv[2];
// The spec's comma lists (origin, destination, sources, carriers) are style: form, explode: false;
// openapi-fetch serializes arrays exploded unless told.
const client = createClient<paths>({ baseUrl: base, querySerializer: { array: { style: "form", explode: false } } });

async function raw(target: string): Promise<Record<string, unknown>> {
    const res = await fetch(base + target);
    assert.equal(res.status, 200, `${target}: ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
}

// took_us differs between two answers to the same query; nothing else may
function withoutTime<T extends object>(doc: T): Omit<T, "took_us"> {
    const { took_us: _ignored, ...rest } = doc as T & { took_us?: number };
    return rest;
}

const search = await client.GET("/v1/search", {
    params: { query: { origin: ["GRU"], destination: ["LIS", "OPO"], date: "2026-12-05", cabin: "business", seats: 2 } },
});
assert.ok(search.data, `search: ${search.response.status} ${JSON.stringify(search.error)}`);
// every field of an answer is optional in its type: with `fields` (below) any of them may be left out
const first = (search.data.results ?? [])[0];
assert.ok(first !== undefined && first.segments?.[0]?.carrier?.length === 2 && (first.miles ?? 0) > 0, "search: no typed first result");
assert.deepEqual(withoutTime(search.data),
    withoutTime(await raw("/v1/search?origin=GRU&destination=LIS,OPO&date=2026-12-05&cabin=business&seats=2")));

const calendar = await client.GET("/v1/calendar", {
    params: { query: { origin: ["GRU"], destination: ["LIS"], start_date: "2026-12-01", end_date: "2026-12-31", cabin: "business" } },
});
assert.ok(calendar.data, `calendar: ${calendar.response.status}`);
assert.equal(calendar.data.days?.length, 31);
assert.deepEqual(withoutTime(calendar.data),
    withoutTime(await raw("/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-31&cabin=business")));

const routes = await client.GET("/v1/routes", { params: { query: { origin: "GRU" } } });
assert.ok(routes.data, `routes: ${routes.response.status}`);
assert.ok((routes.data.destinations ?? []).some((d) => d.destination === "LIS" && d.stops === 0));
assert.deepEqual(withoutTime(routes.data), withoutTime(await raw("/v1/routes?origin=GRU")));

// a list view's partial answer: the same fields as the hand-written URL's
const listView = await client.GET("/v1/search", {
    params: { query: { origin: ["GRU"], destination: ["LIS", "OPO"], date: "2026-12-05", fields: "results(id,miles,seats),next_cursor" } },
});
assert.ok(listView.data, `fields: ${listView.response.status}`);
assert.deepEqual(Object.keys(listView.data), ["results", "next_cursor"]);
assert.deepEqual(listView.data, await raw("/v1/search?origin=GRU&destination=LIS,OPO&date=2026-12-05&fields=results(id,miles,seats),next_cursor"));

// a refusal arrives as the typed error body, naming the parameter
const bad = await client.GET("/v1/search", { params: { query: { origin: ["GRU"], destination: ["LIS"], date: "2026-02-30" } } });
assert.equal(bad.response.status, 400);
assert.equal(bad.error?.error.code, "invalid_parameter");
assert.equal(bad.error?.error.parameter, "date");

console.log(`client: generated client answered like the API (${search.data.count} results, ${calendar.data.days?.length} days, ` +
    `${routes.data.destinations?.length} destinations)`);
