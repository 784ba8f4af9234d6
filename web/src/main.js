// The DIY map (doe-het-zelf-kaart): OpenLayers in RD New (default) or Web Mercator, catalog layers,
// identify, search, version swipe, shareable URL state; the assessment lives in assess.js.

import 'ol/ol.css';
import './map.css';
import proj4 from 'proj4';
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import TileLayer from 'ol/layer/Tile.js';
import XYZ from 'ol/source/XYZ.js';
import { register } from 'ol/proj/proj4.js';
import { transform, transformExtent, get as getProjection } from 'ol/proj.js';
import { getRenderPixel } from 'ol/render.js';
import { defaults as defaultControls, ScaleLine } from 'ol/control.js';
import { BASEMAP, loadCatalog, loading, makeTileLayer, renderPanel, tileGrid } from './layers.js';
import { Assessment } from './assess.js';
import { $, api, apiKey, el, nl, setApiKey } from './util.js';

proj4.defs('EPSG:28992', '+proj=sterea +lat_0=52.1561605555556 +lon_0=5.38763888888889 +k=0.9999079 '
  + '+x_0=155000 +y_0=463000 +ellps=bessel +towgs84=565.4171,50.3319,465.5524,1.9342,-1.6677,9.1019,4.0725 '
  + '+units=m +no_defs +type=crs');
register(proj4);

const CONFIG = JSON.parse(document.getElementById('kaart-config').textContent);
const RD = 'EPSG:28992';
const TMS_SHORT = { NetherlandsRDNewQuad: 'rd', WebMercatorQuad: 'wm' };
const TMS_LONG = { rd: 'NetherlandsRDNewQuad', wm: 'WebMercatorQuad' };
// Layers switched on when the URL names none.
const DEFAULT_ON = [BASEMAP];

const app = {
  catalog: [],
  state: { tms: CONFIG.defaultGrid, layers: [], compare: null, swipe: 50 },
  map: null,
  olLayers: {},
  compareLayer: null,
  externalLayer: null,
  assessment: null,
  restoring: true,
};
window.kaart = app; // for the browser tests and the curious
app.loading = loading;
// The screen pixel of an RD New position (for the browser tests and the curious).
app.centreOn = (x, y, resolution) => {
  const view = app.map.getView();
  view.setCenter(transform([x, y], RD, view.getProjection()));
  view.setResolution(resolution);
};
app.pixelOf = (x, y) => app.map.getPixelFromCoordinate(transform([x, y], 'EPSG:28992', app.map.getView().getProjection()));

function grid() {
  return CONFIG.grids[app.state.tms];
}

function regionExtent(crs) {
  const boxes = app.catalog.map((l) => l.bounds['EPSG:4326']).filter(Boolean);
  if (!boxes.length) return transformExtent([5.9, 51.8, 6.8, 52.3], 'EPSG:4326', crs);
  const b = [Math.min(...boxes.map((x) => x[0])), Math.min(...boxes.map((x) => x[1])),
    Math.max(...boxes.map((x) => x[2])), Math.max(...boxes.map((x) => x[3]))];
  return transformExtent(b, 'EPSG:4326', crs);
}

// ---- URL state ------------------------------------------------------------------------------------

function readHash() {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

export function writeHash() {
  if (app.restoring || !app.map) return;
  const p = new URLSearchParams();
  p.set('p', TMS_SHORT[app.state.tms]);
  const view = app.map.getView();
  const c = view.getCenter();
  if (c) {
    const digits = app.state.tms === 'WebMercatorQuad' ? 1 : 2;
    p.set('c', `${c[0].toFixed(digits)},${c[1].toFixed(digits)}`);
    p.set('r', String(Number(view.getResolution().toPrecision(6))));
  }
  p.set('l', app.state.layers.filter((s) => s.on).map((s) => [s.id, Math.round(s.opacity * 100), s.version || '']
    .join('~').replace(/~$/, '')).join('|'));
  const order = app.state.layers.map((s) => s.id).join('|');
  p.set('o', order);
  if (app.state.compare) p.set('cmp', `${app.state.compare.id}~${app.state.compare.version}~${app.state.swipe}`);
  if (app.assessment) app.assessment.writeState(p);
  history.replaceState(null, '', `${location.pathname}${location.search}#${p.toString()}`);
  const link = $('deel-link');
  if (link) link.value = location.href;
}

function restoreLayers(p) {
  const ids = app.catalog.map((l) => l.id);
  const order = (p.get('o') || '').split('|').filter((id) => ids.includes(id));
  for (const id of ids) if (!order.includes(id)) order.push(id);
  // The base map is always at the bottom.
  const sorted = [BASEMAP, ...order.filter((id) => id !== BASEMAP)].filter((id) => ids.includes(id));
  const on = {};
  if (p.has('l')) {
    for (const part of p.get('l').split('|').filter(Boolean)) {
      const [id, opacity, version] = part.split('~');
      on[id] = { opacity: opacity === undefined ? 1 : Number(opacity) / 100, version: version || null };
    }
  } else {
    for (const id of DEFAULT_ON) on[id] = { opacity: 1, version: null };
  }
  app.state.layers = sorted.map((id) => {
    const layer = app.catalog.find((l) => l.id === id);
    const s = on[id];
    const version = s && s.version && layer.versions.includes(s.version) ? s.version : null;
    return { id, on: Boolean(s), opacity: s ? Math.max(0, Math.min(1, s.opacity)) : 0.8, version };
  });
  if (p.has('cmp')) {
    const [id, version, swipe] = p.get('cmp').split('~');
    if (ids.includes(id)) app.state.compare = { id, version };
    app.state.swipe = Number(swipe) || 50;
  }
}

// ---- map --------------------------------------------------------------------------------------------

function buildView(p) {
  const g = grid();
  const projection = getProjection(g.crs);
  const extent = regionExtent(g.crs);
  const view = new View({ projection, resolutions: g.resolutions, constrainResolution: false, showFullExtent: true });
  const c = p && p.get('c');
  if (c && p.get('r')) {
    view.setCenter(c.split(',').map(Number));
    view.setResolution(Number(p.get('r')));
  } else {
    view.setCenter([(extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2]);
    view.setResolution(g.resolutions[g.resolutions.length - 6]);
    view.set('fitTo', extent);
  }
  return view;
}

function syncLayers() {
  const g = grid();
  const tms = app.state.tms;
  const seen = new Set();
  app.state.layers.forEach((s, index) => {
    const layer = app.catalog.find((l) => l.id === s.id);
    const key = `${s.id}@${s.version || ''}@${tms}`;
    seen.add(key);
    let ol = app.olLayers[key];
    if (s.on && !ol) {
      ol = makeTileLayer(layer, tms, g, s.version);
      app.olLayers[key] = ol;
      app.map.addLayer(ol);
    }
    if (ol) {
      ol.setVisible(s.on);
      ol.setOpacity(s.opacity);
      ol.setZIndex(10 + index);
    }
  });
  for (const [key, ol] of Object.entries(app.olLayers)) {
    if (!seen.has(key)) {
      app.map.removeLayer(ol);
      delete app.olLayers[key];
    }
  }
  syncCompare();
}

function syncCompare() {
  if (app.compareLayer) {
    app.map.removeLayer(app.compareLayer);
    app.compareLayer = null;
  }
  const cmp = app.state.compare;
  $('vergelijk-uit').hidden = !cmp;
  $('schuif').disabled = !cmp;
  if (!cmp) return;
  const layer = app.catalog.find((l) => l.id === cmp.id);
  const s = app.state.layers.find((x) => x.id === cmp.id);
  s.on = true;
  const ol = makeTileLayer(layer, app.state.tms, grid(), cmp.version === layer.version ? null : cmp.version,
    { className: 'vergelijk-laag' });
  ol.setZIndex(500);
  ol.on('prerender', (event) => {
    const ctx = event.context;
    const size = app.map.getSize();
    const x = (size[0] * app.state.swipe) / 100;
    const tl = getRenderPixel(event, [x, 0]);
    const tr = getRenderPixel(event, [size[0], 0]);
    const bl = getRenderPixel(event, [x, size[1]]);
    const br = getRenderPixel(event, size);
    ctx.save();
    ctx.beginPath();
    ctx.moveTo(tl[0], tl[1]);
    ctx.lineTo(bl[0], bl[1]);
    ctx.lineTo(br[0], br[1]);
    ctx.lineTo(tr[0], tr[1]);
    ctx.closePath();
    ctx.clip();
  });
  ol.on('postrender', (event) => event.context.restore());
  app.compareLayer = ol;
  app.map.addLayer(ol);
  $('schuif').value = app.state.swipe;
}

function externalBasemap() {
  const ext = CONFIG.externalBasemap;
  if (!ext || app.state.tms !== 'NetherlandsRDNewQuad') return null;
  const g = CONFIG.grids.NetherlandsRDNewQuad;
  return new TileLayer({ visible: false, zIndex: 1, properties: { layerId: 'extern' },
    source: new XYZ({ url: ext.url, projection: RD, tileGrid: tileGrid(g) }) });
}

/** A checkbox for the external base map (only when one is configured; off by default). */
function externalToggle() {
  if (!app.externalLayer) return;
  const box = el('input', { type: 'checkbox', id: 'laag-extern' });
  box.addEventListener('change', () => app.externalLayer.setVisible(box.checked));
  $('lagen').append(el('div', { class: 'laag' }, el('div', { class: 'laag-kop' }, box,
    el('label', { for: 'laag-extern' }, `${CONFIG.externalBasemap.name} (extern; verlaat de server)`))));
}

function changed(rebuildPanel = true, movedOrder = false) {
  syncLayers();
  if (rebuildPanel && movedOrder) {
    renderPanel($('lagen'), app.catalog, app.state, changed);
    externalToggle();
  }
  writeHash();
}

function createMap(p) {
  const target = $('kaart');
  if (app.map) {
    app.map.setTarget(null);
    app.olLayers = {};
    app.compareLayer = null;
  }
  app.map = new Map({
    target,
    view: buildView(p),
    controls: defaultControls({ attributionOptions: { collapsible: true } }).extend([new ScaleLine()]),
    keyboardEventTarget: target,
  });
  const fitTo = app.map.getView().get('fitTo');
  if (fitTo) app.map.getView().fit(fitTo, { size: app.map.getSize(), padding: [20, 20, 20, 20] });
  app.externalLayer = externalBasemap();
  if (app.externalLayer) app.map.addLayer(app.externalLayer);
  app.map.on('moveend', writeHash);
  app.map.on('singleclick', (event) => {
    if (app.assessment && app.assessment.handleClick(event)) return;
    identify(event.coordinate);
  });
  syncLayers();
  if (app.assessment) app.assessment.attach(app.map);
}

function switchProjection(tms) {
  if (tms === app.state.tms) return;
  const view = app.map.getView();
  const from = view.getProjection().getCode();
  const centre = transform(view.getCenter(), from, CONFIG.grids[tms].crs);
  const scale = tms === 'WebMercatorQuad' ? 1.6 : 1 / 1.6; // ground metres vs mercator metres near 52° N
  const resolution = view.getResolution() * scale;
  app.state.tms = tms;
  const p = new URLSearchParams();
  p.set('c', centre.join(','));
  p.set('r', String(resolution));
  createMap(p);
  writeHash();
}

// ---- identify -------------------------------------------------------------------------------------------

async function identify(coordinate) {
  const view = app.map.getView();
  const [x, y] = transform(coordinate, view.getProjection().getCode(), RD);
  const layers = app.state.layers.filter((s) => s.on || s.id === BASEMAP)
    .map((s) => (s.version ? `${s.id}@${s.version}` : s.id)).reverse();
  const params = new URLSearchParams({ layers: layers.join(','), x: x.toFixed(2), y: y.toFixed(2),
    resolution: String(view.getResolution()) });
  const box = $('info');
  const content = $('info-inhoud');
  content.replaceChildren(el('p', {}, 'Bezig…'));
  box.hidden = false;
  try {
    const answer = await (await api(`/map/api/identify?${params}`)).json();
    content.replaceChildren(el('h2', {}, `Op deze plek (RD ${nl(x, 0)}, ${nl(y, 0)})`),
      ...answer.layers.map(identifySection));
    if (!content.querySelector('table')) content.append(el('p', {}, 'Geen gegevens op deze plek.'));
  } catch (error) {
    content.replaceChildren(el('p', { class: 'melding' }, `Opvragen mislukt: ${error.message}`));
  }
  $('info-sluit').focus();
}

function rowsTable(rows, caption) {
  return el('table', { class: 'attributen' }, el('caption', {}, caption),
    el('tbody', {}, rows.map((r) => el('tr', {}, el('th', { scope: 'row' }, r.label), el('td', {}, r.text)))));
}

function identifySection(layer) {
  const parts = [];
  if (layer.values.length) parts.push(rowsTable(layer.values, 'Rasterwaarden'));
  for (const f of layer.features) {
    const table = rowsTable(f.attributes, f.label || f.output);
    parts.push(table);
    if (f.bag_id && app.assessment) {
      parts.push(el('button', { type: 'button', class: 'pand-beoordelen', onclick: () => {
        $('info').hidden = true;
        app.assessment.fromBag(f.bag_id);
      } }, 'Dit pand beoordelen'));
    }
  }
  if (layer.buurt) parts.push(rowsTable(layer.buurt.attributes, 'Buurt'));
  if (!parts.length) return el('div');
  return el('section', { class: 'info-laag', 'data-layer': layer.id }, el('h3', {}, layer.title), ...parts);
}

// ---- search ---------------------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const q = $('zoekterm').value.trim();
  const list = $('zoekresultaten');
  list.replaceChildren();
  if (q.length < 2) return;
  try {
    const answer = await (await api(`/map/api/search?q=${encodeURIComponent(q)}`)).json();
    if (!answer.results.length) {
      list.append(el('li', {}, 'Niets gevonden.', ...answer.notes.map((n) => el('br') && ` ${n}`)));
      return;
    }
    for (const r of answer.results) {
      list.append(el('li', {}, el('button', { type: 'button', class: 'resultaat', onclick: () => flyTo(r) }, r.label)));
    }
    if (answer.results.length === 1) flyTo(answer.results[0]);
  } catch (error) {
    list.append(el('li', {}, `Zoeken mislukt: ${error.message}`));
  }
}

function flyTo(result) {
  const crs = grid().crs;
  const [minx, miny, maxx, maxy] = result.bbox;
  const pad = 40;
  const extent = transformExtent([minx - pad, miny - pad, maxx + pad, maxy + pad], RD, crs);
  app.map.getView().fit(extent, { duration: 300, maxZoom: grid().resolutions.length - 3 });
  $('zoekresultaten').replaceChildren();
  $('zoekterm').value = result.label;
}

// ---- start ----------------------------------------------------------------------------------------------

function wireControls() {
  $('zoek').addEventListener('submit', search);
  $('info-sluit').addEventListener('click', () => { $('info').hidden = true; $('kaart').focus(); });
  document.querySelectorAll('input[name=projectie]').forEach((r) => r.addEventListener('change', () => {
    if (r.checked) switchProjection(r.value);
  }));
  const cmpLayer = $('vergelijk-laag');
  const cmpVersion = $('vergelijk-versie');
  const fillVersions = () => {
    const layer = app.catalog.find((l) => l.id === cmpLayer.value);
    cmpVersion.replaceChildren(...(layer ? layer.versions : []).map((v) => el('option', { value: v }, v)));
  };
  cmpLayer.addEventListener('change', fillVersions);
  $('vergelijk-aan').addEventListener('click', () => {
    if (!cmpLayer.value || !cmpVersion.value) return;
    app.state.compare = { id: cmpLayer.value, version: cmpVersion.value };
    changed();
    renderPanel($('lagen'), app.catalog, app.state, changed);
  });
  $('vergelijk-uit').addEventListener('click', () => { app.state.compare = null; changed(); });
  $('schuif').addEventListener('input', () => {
    app.state.swipe = Number($('schuif').value);
    app.map.render();
    writeHash();
  });
  $('sleutel-gebruik').addEventListener('click', async () => {
    setApiKey($('api-sleutel').value.trim());
    $('api-sleutel').value = '';
    await start(false);
  });
  $('sleutel-wis').addEventListener('click', async () => { setApiKey(''); await start(false); });
  return { fillVersions, cmpLayer };
}

let controls = null;

async function start(first = true) {
  app.restoring = true;
  const p = first ? readHash() : new URLSearchParams(location.hash.replace(/^#/, ''));
  try {
    app.catalog = await loadCatalog();
  } catch (error) {
    $('lagen').replaceChildren(el('p', { class: 'melding' }, `De catalogus kon niet worden geladen: ${error.message}`));
    return;
  }
  const internal = app.catalog.filter((l) => l.access !== 'public').length;
  if (!apiKey()) $('sleutel-status').textContent = 'Geen sleutel: alleen openbare lagen.';
  else if (internal) $('sleutel-status').textContent = `Sleutel in gebruik (alleen deze sessie): ${internal} interne laag/lagen.`;
  else $('sleutel-status').textContent = 'Deze sleutel geeft geen interne lagen (onbekend, ingetrokken of zonder interne lagen).';
  if (p.get('p') && TMS_LONG[p.get('p')]) app.state.tms = TMS_LONG[p.get('p')];
  document.querySelectorAll('input[name=projectie]').forEach((r) => { r.checked = r.value === app.state.tms; });
  if (first || !app.state.layers.length) restoreLayers(p);
  else restoreLayers(readHash());
  if (!controls) controls = wireControls();
  controls.cmpLayer.replaceChildren(...app.catalog.map((l) => el('option', { value: l.id, selected: app.state.compare && app.state.compare.id === l.id }, l.title.nl || l.id)));
  controls.fillVersions();
  if (!app.assessment) app.assessment = new Assessment(app, CONFIG, writeHash);
  createMap(p);
  renderPanel($('lagen'), app.catalog, app.state, changed);
  externalToggle();
  app.restoring = false;
  // The site and scenario of a shared link are assessed in the background (the map is usable meanwhile).
  if (first) app.assessment.restore(p);
  writeHash();
  document.body.dataset.klaar = '1';
}

start();
