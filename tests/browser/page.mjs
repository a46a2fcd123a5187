// The web page (src/web/) in a real browser, against the real server (run.sh starts both).
//
// Every view is driven as a user would (labels, clicks, the keyboard), and what it shows is compared,
// field by field, with the API's own answer to the same query, fetched here separately:
//   search     SAO (a city code) to LIS, a 14-day range, up to 1 stop: the rows of page 1 equal
//              /v1/search with the page's limit of 20; a column's sort button re-sorts through the API
//              (sort=duration); "Next page" shows the page of next_cursor and "Previous page" page 1
//   keyboard   the form reached with Tab, filled by typing and submitted with Enter
//   errors     a bad code: the API's message is shown and the field it names marked invalid
//   calendar   30 cells, each the cheapest business miles of that day from /v1/calendar (or none)
//   explore    the rows equal /v1/routes?origin=GRU
//   feeds      with the token, the rows equal /v1/feeds (source, sequence, update time, legs, counts)
//   375 px     every view, with its results, scrolls no wider than the viewport
// Screenshots of each view go to --artifacts.
//
//   node page.mjs --modules DIR --url URL --token TOKEN --chromium PATH --artifacts DIR
import {createRequire} from 'node:module';
import {parseArgs} from 'node:util';
import assert from 'node:assert/strict';
import path from 'node:path';

const {values: args} = parseArgs({options: {
  modules: {type: 'string'}, url: {type: 'string'}, token: {type: 'string'}, chromium: {type: 'string'},
  artifacts: {type: 'string'},
}});
const require = createRequire(path.join(args.modules, 'index.js'));
const {chromium} = require('playwright-core');

const URL_ = args.url;
const PAGE_LIMIT = 20; // the page asks for 20 results a page (src/web/app.js)
const DESKTOP = {width: 1280, height: 800};
const PHONE = {width: 375, height: 740};

async function apiGet(p, headers) {
  const res = await fetch(URL_ + p, {headers: headers || {}});
  assert.equal(res.status, 200, p + ' answered ' + res.status);
  return res.json();
}

// What a row must show, written from docs/api.md's fields and the page's documented display:
// local times as HH:MM (+N days on arrival), durations as 11h 05m, miles with thousands commas,
// taxes in major units with the currency.
const pad2 = (n) => String(n).padStart(2, '0');
function expectedRow(r) {
  const depDate = r.departs_at.slice(0, 10), arrDate = r.arrives_at.slice(0, 10);
  const days = Math.round((Date.UTC(...ymd(arrDate)) - Date.UTC(...ymd(depDate))) / 86400000);
  const route = [r.segments[0].origin];
  for (const s of r.segments) route.push(s.destination);
  return [
    r.date,
    r.departs_at.slice(11, 16),
    r.arrives_at.slice(11, 16) + (days ? ' +' + days : ''),
    route.join(' → '),
    r.segments.map((s) => s.carrier + ' ' + s.flight).join(', '),
    r.stops === 0 ? 'Nonstop' : String(r.stops),
    Math.floor(r.duration_min / 60) + 'h ' + pad2(r.duration_min % 60) + 'm',
    r.cabin[0].toUpperCase() + r.cabin.slice(1),
    groupThousands(r.miles),
    Math.floor(r.taxes_cents / 100) + '.' + pad2(r.taxes_cents % 100) + ' ' + r.currency,
    String(r.seats),
    r.source,
  ];
}
function ymd(s) { const [y, m, d] = s.split('-').map(Number); return [y, m - 1, d]; }
function groupThousands(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

async function shownRows(page, table) {
  return page.$$eval(table + ' tbody tr', (trs) => trs.map((tr) => ({
    key: tr.dataset.id || tr.dataset.destination || tr.dataset.source,
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
}

async function checkResults(page, apiBody, what) {
  const rows = await shownRows(page, '#results');
  assert.equal(rows.length, apiBody.results.length, what + ': row count');
  assert.ok(rows.length > 0, what + ': the query must find results for the check to mean anything');
  apiBody.results.forEach((r, i) => {
    assert.equal(rows[i].key, r.id, what + ': row ' + i + ' id');
    assert.deepEqual(rows[i].cells, expectedRow(r), what + ': row ' + i + ' (' + r.id + ')');
  });
}

// Waits for a view's aria-live status to leave "Searching..."/"Loading..." and to match re.
async function waitStatus(page, sel, re) {
  await page.waitForFunction(([s, src]) => new RegExp(src).test(document.querySelector(s).textContent), [sel, re.source]);
}

async function noHorizontalScroll(page, what) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, what + ' at 375 px: the page is ' + scroll + ' px wide in a ' + client + ' px viewport');
}

const shot = (page, name) => page.screenshot({path: path.join(args.artifacts, name + '.png')});

const SEARCH = {origin: 'SAO', destination: 'LIS', start_date: '2026-12-01', end_date: '2026-12-14', max_stops: '1'};
const searchUrl = (extra) => '/v1/search?origin=SAO&destination=LIS&start_date=2026-12-01&end_date=2026-12-14&seats=1' +
  '&max_stops=1&limit=' + PAGE_LIMIT + (extra || '');

async function fillSearch(page) {
  const v = page.locator('#view-search');
  await v.getByLabel('From', {exact: true}).fill(SEARCH.origin);
  await v.getByLabel('To', {exact: true}).fill(SEARCH.destination);
  await v.getByLabel('Date', {exact: true}).fill(SEARCH.start_date);
  await v.getByLabel('Until (optional)').fill(SEARCH.end_date);
  await v.getByLabel('Stops').selectOption('1');
}

async function searchView(page, phone) {
  await page.goto(URL_ + '/');
  await fillSearch(page);
  await page.getByRole('button', {name: 'Search', exact: true}).click();
  await waitStatus(page, '#search-status', /^Results 1–/);
  const first = await apiGet(searchUrl('&sort=miles'));
  assert.ok(first.next_cursor && first.total > 2 * PAGE_LIMIT, 'the search query must span three pages');
  await checkResults(page, first, 'search page 1');
  const status = await page.textContent('#search-status');
  assert.ok(status.includes('of ' + first.total), 'status names the total: ' + status);
  assert.ok(status.includes(first.origins.join(',')) && status.includes(first.destinations.join(',')), 'status names the airports searched');
  if (phone) {
    await noHorizontalScroll(page, 'search results');
    await shot(page, 'search-375px');
    return;
  }
  await shot(page, 'search');

  // the cursor: page 2 is the API's page after next_cursor; Previous returns to page 1
  await page.getByRole('button', {name: 'Next page'}).click();
  await waitStatus(page, '#search-status', new RegExp('^Results ' + (PAGE_LIMIT + 1) + '–'));
  const second = await apiGet(searchUrl('&sort=miles&cursor=' + encodeURIComponent(first.next_cursor)));
  await checkResults(page, second, 'search page 2');
  await page.getByRole('button', {name: 'Previous page'}).click();
  await waitStatus(page, '#search-status', /^Results 1–/);
  await checkResults(page, first, 'search page 1 again');

  // a column's sort button: the API's order by duration, from page 1
  await page.getByRole('button', {name: 'Duration', exact: true}).click();
  await waitStatus(page, '#search-status', /by duration/);
  await checkResults(page, await apiGet(searchUrl('&sort=duration')), 'search sorted by duration');
  assert.equal(await page.getAttribute('th[data-sort="duration"]', 'aria-sort'), 'ascending');
  assert.equal(await page.getAttribute('th[data-sort="miles"]', 'aria-sort'), null);
}

async function keyboardSearch(page) {
  await page.goto(URL_ + '/');
  // Tab from the top of the page until the origin field has the focus (skip link, nav, then the form)
  let tabs = 0;
  while (await page.evaluate(() => document.activeElement.id) !== 's-origin') {
    assert.ok(++tabs < 15, 'the origin field is not reachable with Tab');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type('gru');
  await page.keyboard.press('Tab');
  await page.keyboard.type('lis');
  await page.keyboard.press('Tab');
  await page.keyboard.type('12052026'); // the date field, en-US: mm dd yyyy
  await page.keyboard.press('Enter');
  await waitStatus(page, '#search-status', /^(Results 1–|No award)/);
  await checkResults(page, await apiGet('/v1/search?origin=GRU&destination=LIS&date=2026-12-05&seats=1&max_stops=0&sort=miles&limit=20'),
    'keyboard-only search');
}

async function errorShown(page) {
  await page.goto(URL_ + '/');
  const v = page.locator('#view-search');
  await v.getByLabel('From', {exact: true}).fill('GR');
  await v.getByLabel('To', {exact: true}).fill('LIS');
  await v.getByLabel('Date', {exact: true}).fill('2026-12-05');
  await page.getByRole('button', {name: 'Search', exact: true}).click();
  await page.waitForSelector('#search-error:not([hidden])');
  const res = await fetch(URL_ + '/v1/search?origin=GR&destination=LIS&date=2026-12-05&seats=1&max_stops=0&sort=miles&limit=20');
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.parameter, 'origin');
  assert.equal(await page.textContent('#search-error'), body.error.message);
  assert.equal(await page.getAttribute('#s-origin', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 's-origin', 'the invalid field gets the focus');
}

async function calendarView(page, phone) {
  await page.goto(URL_ + '/#calendar');
  const v = page.locator('#view-calendar');
  await v.getByLabel('From', {exact: true}).fill('GRU');
  await v.getByLabel('To', {exact: true}).fill('LIS');
  await v.getByLabel('First day').fill('2026-12-01');
  await v.getByLabel('Cabin').selectOption('business');
  await page.getByRole('button', {name: 'Show calendar'}).click();
  await waitStatus(page, '#calendar-status', /days have seats|No award/);
  const api = await apiGet('/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-30&cabin=business&seats=1&max_stops=0');
  assert.equal(api.days.length, 30);
  const cells = await page.$$eval('#calendar li', (lis) => lis.map((li) => ({
    date: li.dataset.date, miles: li.dataset.minMiles || null,
    text: li.querySelector('.miles').textContent, label: li.querySelector('button').getAttribute('aria-label'),
  })));
  assert.equal(cells.length, 30, 'calendar cells');
  let withSeats = 0;
  api.days.forEach((d, i) => {
    assert.equal(cells[i].date, d.date, 'calendar cell ' + i + ' date');
    if (d.business) {
      withSeats++;
      const m = d.business.min_miles;
      assert.equal(cells[i].miles, String(m), d.date + ' miles');
      // shown in thousands (157500 -> 157.5k; the demo's prices are whole hundreds), in full in the accessible name
      assert.equal(m % 100, 0, d.date + ': a demo price in whole hundreds');
      assert.equal(cells[i].text, String(m / 1000) + 'k', d.date + ' text');
      assert.ok(cells[i].label.includes(groupThousands(m) + ' miles'), d.date + ' label: ' + cells[i].label);
    } else {
      assert.equal(cells[i].miles, null, d.date + ' has no seats');
      assert.ok(cells[i].label.endsWith('no award seats'), d.date + ' label');
    }
  });
  assert.ok(withSeats > 0 && withSeats < 30, 'the calendar query must have days with and without seats');
  if (phone) {
    await noHorizontalScroll(page, 'calendar');
    await shot(page, 'calendar-375px');
  } else {
    await shot(page, 'calendar');
  }
}

async function exploreView(page, phone) {
  await page.goto(URL_ + '/#explore');
  await page.getByLabel('From (one airport)').fill('GRU');
  await page.getByRole('button', {name: 'Explore'}).click();
  await waitStatus(page, '#explore-status', /destinations from/);
  const api = await apiGet('/v1/routes?origin=GRU&max_stops=0');
  const rows = await shownRows(page, '#routes');
  assert.ok(api.destinations.length > 0);
  assert.equal(rows.length, api.destinations.length, 'explore rows');
  api.destinations.forEach((d, i) => {
    assert.equal(rows[i].key, d.destination);
    assert.deepEqual(rows[i].cells, [d.destination, d.stops === 0 ? 'Nonstop' : String(d.stops), groupThousands(d.legs),
      d.first_date, d.last_date, 'Search'], 'explore row ' + d.destination);
  });
  if (phone) {
    await noHorizontalScroll(page, 'explore');
    await shot(page, 'explore-375px');
  } else {
    await shot(page, 'explore');
  }
}

async function feedsView(page, phone) {
  await page.goto(URL_ + '/#feeds');
  await page.getByLabel('Bearer token').fill(args.token);
  await page.getByRole('button', {name: 'Show feeds'}).click();
  await waitStatus(page, '#feeds-status', /sources at generation/);
  const api = await apiGet('/v1/feeds', {Authorization: 'Bearer ' + args.token});
  const rows = await shownRows(page, '#feeds');
  assert.ok(api.sources.length > 0);
  assert.equal(rows.length, api.sources.length, 'feed rows');
  api.sources.forEach((s, i) => {
    assert.equal(rows[i].key, s.source);
    const c = rows[i].cells;
    // the age moves on between the two reads, so it is checked for its form only
    assert.deepEqual([c[0], c[1], c[2], c[4], c[5], c[6]], [s.source, String(s.sequence), s.updated_at, groupThousands(s.legs),
      String(s.accepted), String(s.refused)], 'feed row ' + s.source);
    assert.match(c[3], /^\d+ (s|min|h|days)$/);
  });
  if (phone) {
    await noHorizontalScroll(page, 'feeds');
    await shot(page, 'feeds-375px');
  } else {
    await shot(page, 'feeds');
  }
  // a wrong token: the API's 401 message, not an empty table
  await page.getByLabel('Bearer token').fill('not-a-token-0123456789');
  await page.getByRole('button', {name: 'Show feeds'}).click();
  await page.waitForSelector('#feeds-error:not([hidden])');
}

const browser = await chromium.launch({executablePath: args.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']});
let failed = false;
try {
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const context = await browser.newContext({viewport, locale: 'en-US', timezoneId: 'UTC'});
    context.setDefaultTimeout(10000);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // the 400 and 401 the checks provoke are logged by the browser as failed loads: not the page's errors
    page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
    const phone = name === 'phone';
    await searchView(page, phone);
    if (!phone) {
      await keyboardSearch(page);
      await errorShown(page);
    }
    await calendarView(page, phone);
    await exploreView(page, phone);
    await feedsView(page, phone);
    assert.deepEqual(errors, [], 'errors in the page (' + name + ')');
    await context.close();
    console.log('browser: ' + name + ' views match the API');
  }
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
