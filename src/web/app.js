// The flightsearch page: plain DOM over the read API (docs/api.md). No framework and no build step:
// src/web_embed.py compiles this file into the binary as it is.
'use strict';

const $ = (sel) => document.querySelector(sel);
const CABINS = ['economy', 'premium', 'business', 'first'];

// Comma lists stay literal commas (origin=GRU,GIG), as docs/api.md writes them.
function query(params) {
  return Object.entries(params)
    .filter(([, v]) => v !== '' && v !== null && v !== undefined)
    .map(([k, v]) => k + '=' + encodeURIComponent(String(v)).replace(/%2C/gi, ','))
    .join('&');
}

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || 'the server answered ' + status);
    this.status = status;
    this.parameter = e.parameter || null;
  }
}

async function api(path, params, headers) {
  const res = await fetch(path + (params ? '?' + query(params) : ''), {headers: headers || {}});
  let body = null;
  try { body = await res.json(); } catch (_) { /* a proxy's HTML error page */ }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const codes = (s) => s.toUpperCase().replace(/\s+/g, '').replace(/,+$/, '');
const num = (n) => n.toLocaleString('en-US');
const hhmm = (iso) => iso.slice(11, 16);
const dayDiff = (a, b) => Math.round((Date.parse(b.slice(0, 10)) - Date.parse(a.slice(0, 10))) / 86400000);
const duration = (m) => Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
const money = (cents, cur) => (cents / 100).toFixed(2) + ' ' + cur;
const cabinName = (c) => c.charAt(0).toUpperCase() + c.slice(1);

function addDays(iso, n) {
  const d = new Date(iso + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

// An API error: said in the form's alert, and the field it names marked and focused.
function showError(form, box, err) {
  box.textContent = err instanceof ApiError ? err.message : 'The server could not be reached: ' + err.message;
  box.hidden = false;
  const field = err.parameter && form.querySelector('[name="' + (err.parameter === 'start_date' && form.id === 'search-form' ? 'date' : err.parameter) + '"]');
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

function clearError(form, box) {
  box.hidden = true;
  box.textContent = '';
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
}

function cell(tr, label, text, cls) {
  const td = document.createElement('td');
  td.dataset.label = label;
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// ------------------------------------------------------------------ views

function showView(name) {
  if (!['search', 'calendar', 'explore', 'feeds'].includes(name)) name = 'search';
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.id !== 'view-' + name; });
  document.querySelectorAll('nav a').forEach((a) => {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

function goTo(name) {
  if (location.hash !== '#' + name) history.pushState(null, '', '#' + name);
  showView(name);
  $('#h-' + name).focus();
}

// ----------------------------------------------------------------- search

const search = {params: null, cursors: [], page: 0};

function searchParams() {
  const f = $('#search-form');
  const p = {origin: codes(f.origin.value), destination: codes(f.destination.value),
    cabin: f.cabin.value, seats: f.seats.value, max_stops: f.max_stops.value, sort: f.sort.value, limit: 20};
  if (f.end_date.value) {
    p.start_date = f.date.value;
    p.end_date = f.end_date.value;
  } else {
    p.date = f.date.value;
  }
  return p;
}

async function runSearch(page) {
  const f = $('#search-form');
  clearError(f, $('#search-error'));
  const p = Object.assign({}, search.params, {cursor: search.cursors[page] || null});
  $('#search-status').textContent = 'Searching...';
  let body;
  try {
    body = await api('/v1/search', p);
  } catch (err) {
    $('#search-status').textContent = '';
    showError(f, $('#search-error'), err);
    return;
  }
  search.page = page;
  search.cursors.length = page + 1;
  if (body.next_cursor) search.cursors.push(body.next_cursor);
  renderResults(body);
}

function renderResults(body) {
  const tbody = $('#results tbody');
  tbody.replaceChildren();
  for (const r of body.results) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    cell(tr, 'Date', r.date);
    cell(tr, 'Departs', hhmm(r.departs_at));
    const days = dayDiff(r.departs_at, r.arrives_at);
    cell(tr, 'Arrives', hhmm(r.arrives_at) + (days ? ' +' + days : ''));
    cell(tr, 'Route', [r.segments[0].origin].concat(r.segments.map((s) => s.destination)).join(' → '));
    cell(tr, 'Flights', r.segments.map((s) => s.carrier + ' ' + s.flight).join(', '));
    cell(tr, 'Stops', r.stops === 0 ? 'Nonstop' : String(r.stops));
    cell(tr, 'Duration', duration(r.duration_min), 'num');
    cell(tr, 'Cabin', cabinName(r.cabin));
    cell(tr, 'Miles', num(r.miles), 'num');
    cell(tr, 'Taxes', money(r.taxes_cents, r.currency), 'num');
    cell(tr, 'Seats', String(r.seats), 'num');
    cell(tr, 'Source', r.source);
    tbody.appendChild(tr);
  }
  const sort = search.params.sort;
  document.querySelectorAll('#results th[data-sort]').forEach((th) => {
    if (th.dataset.sort === sort) th.setAttribute('aria-sort', 'ascending');
    else th.removeAttribute('aria-sort');
  });
  const first = search.page * search.params.limit;
  $('#results').hidden = body.count === 0;
  $('#search-status').textContent = body.count === 0
    ? 'No award seats found for ' + body.origins.join(',') + ' to ' + body.destinations.join(',') + '.'
    : 'Results ' + (first + 1) + '–' + (first + body.count) + ' of ' + body.total + ', by ' + sort +
      ' (page ' + (search.page + 1) + '). Searched ' + body.origins.join(',') + ' to ' + body.destinations.join(',') + '.';
  $('#pager').hidden = body.count === 0 || (search.page === 0 && !body.next_cursor);
  $('#prev-page').disabled = search.page === 0;
  $('#next-page').disabled = !body.next_cursor;
}

function submitSearch() {
  search.params = searchParams();
  search.cursors = [null];
  runSearch(0);
}

// A column's sort button: the API sorts (its order is total and paged), so the search restarts
// from page 1 with that order.
function sortBy(key) {
  $('#s-sort').value = key;
  if (search.params) submitSearch();
}

// -------------------------------------------------------------- calendar

async function runCalendar() {
  const f = $('#calendar-form');
  clearError(f, $('#calendar-error'));
  const start = f.start_date.value;
  const p = {origin: codes(f.origin.value), destination: codes(f.destination.value), start_date: start,
    end_date: start ? addDays(start, 29) : '', cabin: f.cabin.value, seats: f.seats.value, max_stops: f.max_stops.value};
  $('#calendar-status').textContent = 'Loading...';
  let body;
  try {
    body = await api('/v1/calendar', p);
  } catch (err) {
    $('#calendar-status').textContent = '';
    showError(f, $('#calendar-error'), err);
    return;
  }
  renderCalendar(body, p);
}

// The cheapest miles of a day: of the chosen cabin, or of any cabin when none is chosen.
function dayMin(day, cabin) {
  let best = null;
  for (const c of cabin ? [cabin] : CABINS) {
    if (day[c] && (best === null || day[c].min_miles < best.miles)) best = {miles: day[c].min_miles, cabin: c, seats: day[c].max_seats, count: day[c].count};
  }
  return best;
}

const compact = (m) => m >= 1000 ? (Math.round(m / 100) / 10) + 'k' : String(m);

function renderCalendar(body, p) {
  const ol = $('#calendar');
  ol.replaceChildren();
  const mins = body.days.map((d) => dayMin(d, p.cabin));
  const values = mins.filter(Boolean).map((m) => m.miles);
  const lo = Math.min(...values), hi = Math.max(...values);
  body.days.forEach((d, i) => {
    const li = document.createElement('li');
    li.dataset.date = d.date;
    if (i === 0) li.style.gridColumnStart = String(((new Date(d.date + 'T00:00:00Z').getUTCDay() + 6) % 7) + 1);
    const b = document.createElement('button');
    b.type = 'button';
    const m = mins[i];
    const dayNum = String(Number(d.date.slice(8, 10)));
    const label = document.createElement('span');
    label.className = 'day';
    label.textContent = dayNum;
    const val = document.createElement('span');
    val.className = 'miles';
    if (m) {
      li.dataset.minMiles = String(m.miles);
      val.textContent = compact(m.miles);
      const t = hi > lo ? (m.miles - lo) / (hi - lo) : 0;
      b.style.setProperty('--heat', String(Math.round(t * 100) / 100));
      b.className = 'has';
      b.setAttribute('aria-label', d.date + ': from ' + num(m.miles) + ' miles, ' + m.cabin + ', ' + m.count + (m.count === 1 ? ' flight' : ' flights'));
    } else {
      val.textContent = '–';
      b.className = 'none';
      b.setAttribute('aria-label', d.date + ': no award seats');
    }
    b.append(label, val);
    b.addEventListener('click', () => searchDay(p, d.date));
    li.appendChild(b);
    ol.appendChild(li);
  });
  $('#calendar-legend').hidden = values.length === 0;
  $('#calendar-weekdays').hidden = false;
  $('#calendar-status').textContent = values.length === 0
    ? 'No award seats from ' + p.start_date + ' to ' + p.end_date + '.'
    : values.length + ' of ' + body.days.length + ' days have seats, from ' + num(lo) + ' to ' + num(hi) + ' miles.';
}

function searchDay(p, date) {
  const f = $('#search-form');
  f.origin.value = p.origin;
  f.destination.value = p.destination;
  f.date.value = date;
  f.end_date.value = '';
  f.cabin.value = p.cabin;
  f.seats.value = p.seats;
  f.max_stops.value = p.max_stops;
  goTo('search');
  submitSearch();
}

// ---------------------------------------------------------------- explore

async function runExplore() {
  const f = $('#explore-form');
  clearError(f, $('#explore-error'));
  const p = {origin: codes(f.origin.value), max_stops: f.max_stops.value};
  $('#explore-status').textContent = 'Loading...';
  let body;
  try {
    body = await api('/v1/routes', p);
  } catch (err) {
    $('#explore-status').textContent = '';
    showError(f, $('#explore-error'), err);
    return;
  }
  const tbody = $('#routes tbody');
  tbody.replaceChildren();
  for (const d of body.destinations) {
    const tr = document.createElement('tr');
    tr.dataset.destination = d.destination;
    cell(tr, 'Destination', d.destination);
    cell(tr, 'Stops', d.stops === 0 ? 'Nonstop' : String(d.stops));
    cell(tr, 'Flights', num(d.legs), 'num');
    cell(tr, 'First date', d.first_date);
    cell(tr, 'Last date', d.last_date);
    const td = cell(tr, '', '');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Search';
    b.setAttribute('aria-label', 'Search ' + body.origin + ' to ' + d.destination + ' on ' + d.first_date);
    b.addEventListener('click', () => searchDay({origin: body.origin, destination: d.destination, cabin: '', seats: '1', max_stops: String(d.stops)}, d.first_date));
    td.appendChild(b);
    tbody.appendChild(tr);
  }
  $('#routes').hidden = body.destinations.length === 0;
  $('#explore-status').textContent = body.destinations.length + ' destinations from ' + body.origin + '.';
}

// ------------------------------------------------------------------ feeds

function age(s) {
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' days';
}

async function runFeeds() {
  const f = $('#feeds-form');
  clearError(f, $('#feeds-error'));
  $('#feeds-status').textContent = 'Loading...';
  let body;
  try {
    body = await api('/v1/feeds', null, {Authorization: 'Bearer ' + f.token.value.trim()});
  } catch (err) {
    $('#feeds-status').textContent = '';
    showError(f, $('#feeds-error'), err);
    if (err.status === 401) f.token.focus();
    return;
  }
  const tbody = $('#feeds tbody');
  tbody.replaceChildren();
  for (const s of body.sources) {
    const tr = document.createElement('tr');
    tr.dataset.source = s.source;
    cell(tr, 'Source', s.source);
    cell(tr, 'Sequence', s.sequence === null ? 'none' : String(s.sequence), 'num');
    cell(tr, 'Updated', s.updated_at || '–');
    cell(tr, 'Age', s.age_seconds === null || s.age_seconds === undefined ? '–' : age(s.age_seconds), 'num');
    cell(tr, 'Legs', num(s.legs || 0), 'num');
    cell(tr, 'Accepted', String(s.accepted), 'num');
    cell(tr, 'Refused', String(s.refused), 'num');
    const lr = s.last_refused;
    cell(tr, 'Last refused', lr ? lr.at + ' (' + lr.status + ') ' + lr.reason : '–');
    tbody.appendChild(tr);
  }
  $('#feeds').hidden = body.sources.length === 0;
  $('#feeds-status').textContent = body.sources.length + ' sources at generation ' + body.generation + '.';
}

// ------------------------------------------------------------------- wire

function init() {
  const d = today();
  $('#s-date').value = d;
  $('#c-start').value = d;
  const on = (sel, fn) => $(sel).addEventListener('submit', (e) => { e.preventDefault(); fn(); });
  on('#search-form', submitSearch);
  on('#calendar-form', runCalendar);
  on('#explore-form', runExplore);
  on('#feeds-form', runFeeds);
  document.querySelectorAll('#results th button[data-sort]').forEach((b) => b.addEventListener('click', () => sortBy(b.dataset.sort)));
  $('#next-page').addEventListener('click', () => runSearch(search.page + 1));
  $('#prev-page').addEventListener('click', () => runSearch(search.page - 1));
  document.querySelectorAll('h2').forEach((h) => h.setAttribute('tabindex', '-1'));
  document.querySelectorAll('nav a').forEach((a) => a.addEventListener('click', (e) => {
    e.preventDefault();
    goTo(a.dataset.view);
  }));
  window.addEventListener('popstate', () => showView(location.hash.slice(1)));
  showView(location.hash.slice(1));
}

init();
