// Small helpers of the DIY map: API key, fetch, Dutch numbers and messages, DOM.

const KEY_STORAGE = 'kaartlaag-api-sleutel';

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export function keyHeaders(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, 'X-API-Key': key } : { ...extra };
}

/** Fetch with the API key; throws an Error carrying the server's detail for a 4xx/5xx. */
export async function api(url, options = {}) {
  const response = await fetch(url, { ...options, headers: keyHeaders(options.headers || {}) });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.detail) detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
    } catch (e) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response;
}

/** A Dutch number: 1234.5 -> "1.234,5". */
export function nl(value, decimals = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (typeof value === 'boolean') return value ? 'ja' : 'nee';
  if (typeof value !== 'number') return String(value);
  return value.toLocaleString('nl-NL', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** The server's (English) message of a bad site or scenario, said in Dutch, with the detail after it. */
export function dutchError(error, what = 'plangebied') {
  const detail = error && error.message ? error.message : String(error);
  const rules = [
    [/self-intersect|crosses itself/i, 'De tekening snijdt zichzelf. Teken het plangebied opnieuw, zonder dat de rand zichzelf kruist.'],
    [/outside the region/i, 'Het plangebied ligt buiten de regio. Kies een plek binnen het kaartgebied.'],
    [/outside the site/i, 'De ingreep ligt buiten het plangebied.'],
    [/inside building/i, 'Een boom staat in een gebouw. Kies een plek op open grond.'],
    [/larger than|too many|more than|exceeds/i, 'Het plangebied is te groot of te ingewikkeld.'],
    [/\.prj|not a GeoPackage|not a GeoJSON|zip|shapefile|gpkg|file|empty|no polygon|olygon/i,
      'Dit bestand is geen bruikbaar plangebied (verwacht: een vlak in GeoJSON, GeoPackage of een shapefile-zip met .prj).'],
    [/bag_id|not found|unknown/i, 'Dit pand of adres is niet gevonden.'],
    [/another assessment|try again/i, 'De server rekent al aan een beoordeling. Probeer het zo opnieuw.'],
  ];
  for (const [pattern, text] of rules) {
    if (pattern.test(detail)) return { text, detail };
  }
  return { text: `Het ${what} kon niet worden beoordeeld.`, detail };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(id) {
  return document.getElementById(id);
}
