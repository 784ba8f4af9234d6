// Catalog layers as OpenLayers tile layers, in either tile matrix set, and the layer panel.

import TileLayer from 'ol/layer/Tile.js';
import XYZ from 'ol/source/XYZ.js';
import TileGrid from 'ol/tilegrid/TileGrid.js';
import { transformExtent } from 'ol/proj.js';
import { api, apiKey, el, keyHeaders } from './util.js';

// A transparent 1x1 PNG for tiles the server answers 204 (nothing there).
const EMPTY_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

// Theme of each layer (the panel's groups); layers not listed go under "Overig".
export const THEMES = [
  ['klimaat', 'Klimaat', ['pet', 'heat-stress', 'cool-places']],
  ['groen', 'Groen', ['green-paved', 'tree-3-30-300', 'landcover']],
  ['wonen', 'Wonen', ['housing-sites', 'housing-opportunities', 'housing-opportunities-vacant', 'vacancy',
    'vacancy-addresses', 'projects-map']],
];
export const BASEMAP = 'basemap';

export function themeOf(id) {
  for (const [key, , ids] of THEMES) if (ids.includes(id)) return key;
  return 'overig';
}

export function tileGrid(grid) {
  return new TileGrid({ origin: grid.origin, resolutions: grid.resolutions, tileSize: grid.tileSize, extent: grid.extent });
}

/** The PNG tile URL template of a layer (raster tiles, or the map's rendering of its vector outputs). */
export function tileUrl(layer, tms, version) {
  const v = version && version !== layer.version ? `/v/${version}` : '';
  if (layer.kind === 'raster' && layer.links.raster_tiles) return `/layers/${layer.id}${v}/tiles/${tms}/{z}/{x}/{y}.png`;
  return `/map/api/tiles/${layer.id}${v}/${tms}/{z}/{x}/{y}.png`;
}

// Tile requests under way (the browser tests wait for 0; also handy in the console).
export const loading = { tiles: 0 };

// Tiles are fetched with the API key header (an <img> cannot send one), then shown from a blob URL.
function loadTile(tile, src) {
  const image = tile.getImage();
  loading.tiles += 1;
  const done = () => { loading.tiles -= 1; };
  image.addEventListener('load', done, { once: true });
  image.addEventListener('error', done, { once: true });
  fetch(src, { headers: keyHeaders() }).then(async (response) => {
    if (response.status === 204 || !response.ok) {
      image.src = EMPTY_PNG;
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    image.onload = () => URL.revokeObjectURL(url);
    image.src = url;
  }).catch(() => { image.src = EMPTY_PNG; });
}

/** An OpenLayers tile layer of a catalog layer in tile matrix set ``tms``. */
export function makeTileLayer(layer, tms, grid, version, options = {}) {
  const bounds = layer.bounds['EPSG:4326'];
  const extent = bounds ? transformExtent(bounds, 'EPSG:4326', grid.crs) : undefined;
  const source = new XYZ({
    url: tileUrl(layer, tms, version),
    projection: grid.crs,
    tileGrid: tileGrid(grid),
    tileLoadFunction: loadTile,
    maxZoom: grid.resolutions.length - 1,
    interpolate: false,
    transition: 0,
  });
  return new TileLayer({ source, extent, className: options.className || 'ol-layer', properties: { layerId: layer.id } });
}

/** The catalog as the caller sees it, with each layer's kept versions and legend. */
export async function loadCatalog() {
  const layers = await (await api('/layers')).json();
  await Promise.all(layers.map(async (layer) => {
    try {
      const details = await (await api(`/layers/${layer.id}`)).json();
      layer.versions = (details.versions || []).map((v) => v.version || v);
      if (!layer.versions.includes(layer.version)) layer.versions.unshift(layer.version);
      layer.parameterInfo = details.parameter_info || {};
    } catch (e) {
      layer.versions = [layer.version];
    }
    try {
      layer.legend = await (await api(`/layers/${layer.id}/legend.json`)).json();
    } catch (e) {
      layer.legend = null;
    }
  }));
  return layers;
}

export function legendNode(legend) {
  if (!legend || !legend.items) return el('p', { class: 'legenda-leeg' }, 'Geen legenda');
  return el('ul', { class: 'legenda', 'aria-label': legend.title || 'Legenda' },
    legend.items.map((item) => el('li', {},
      el('span', { class: 'kleur', style: `background:${item.colour}`, 'aria-hidden': 'true' }),
      el('span', { class: 'label' }, item.label))));
}

/**
 * Build the layer panel. ``state.layers`` is the list of {id, on, opacity, version} in drawing order
 * (first = bottom). ``onChange()`` is called after every change.
 */
export function renderPanel(container, catalog, state, onChange) {
  container.replaceChildren();
  const byId = Object.fromEntries(catalog.map((l) => [l.id, l]));
  const groups = [...THEMES.map(([k, t]) => [k, t]), ['overig', 'Overig']];
  const order = state.layers.map((s) => s.id);
  const top = [...order].reverse();
  for (const [key, title] of groups) {
    const members = top.filter((id) => id !== BASEMAP && themeOf(id) === key && byId[id]);
    if (!members.length) continue;
    const section = el('section', { class: 'thema', 'aria-label': title }, el('h3', {}, title));
    for (const id of members) section.append(layerItem(byId[id], state, onChange));
    container.append(section);
  }
  if (byId[BASEMAP]) {
    container.append(el('section', { class: 'thema', 'aria-label': 'Ondergrond' }, el('h3', {}, 'Ondergrond'),
      layerItem(byId[BASEMAP], state, onChange)));
  }
  if (!apiKey() && catalog.length) {
    container.append(el('p', { class: 'hint' }, 'Interne lagen verschijnen na het invoeren van een API-sleutel.'));
  }
}

function layerItem(layer, state, onChange) {
  const s = state.layers.find((x) => x.id === layer.id);
  const title = layer.title.nl || layer.id;
  const checkbox = el('input', { type: 'checkbox', id: `laag-${layer.id}`, 'data-layer': layer.id, checked: s.on });
  checkbox.addEventListener('change', () => { s.on = checkbox.checked; onChange(); });
  const opacity = el('input', { type: 'range', min: 0, max: 100, step: 5, value: Math.round(s.opacity * 100),
    id: `dekking-${layer.id}`, 'aria-label': `Dekking van ${title}` });
  opacity.addEventListener('input', () => { s.opacity = Number(opacity.value) / 100; onChange(false); });
  const move = (delta) => {
    const i = state.layers.indexOf(s);
    const j = i + delta;
    if (j < 0 || j >= state.layers.length || state.layers[j].id === BASEMAP) return;
    [state.layers[i], state.layers[j]] = [state.layers[j], state.layers[i]];
    onChange(true, true);
    document.getElementById(delta > 0 ? `omhoog-${layer.id}` : `omlaag-${layer.id}`)?.focus();
  };
  const version = el('select', { id: `versie-${layer.id}`, 'aria-label': `Versie van ${title}` },
    layer.versions.map((v) => el('option', { value: v, selected: v === (s.version || layer.version) },
      v === layer.version ? `${v} (actueel)` : v)));
  version.addEventListener('change', () => { s.version = version.value === layer.version ? null : version.value; onChange(); });
  const internal = layer.access !== 'public' ? el('span', { class: 'intern' }, 'intern') : null;
  const controls = layer.id === BASEMAP ? [] : [
    el('button', { type: 'button', id: `omhoog-${layer.id}`, 'aria-label': `${title} omhoog`, onclick: () => move(1) }, '▲'),
    el('button', { type: 'button', id: `omlaag-${layer.id}`, 'aria-label': `${title} omlaag`, onclick: () => move(-1) }, '▼'),
  ];
  return el('div', { class: 'laag', 'data-layer': layer.id },
    el('div', { class: 'laag-kop' }, checkbox, el('label', { for: `laag-${layer.id}` }, title), internal, ...controls),
    el('details', {},
      el('summary', {}, 'Legenda, versie en dekking'),
      el('p', { class: 'beschrijving' }, layer.description.nl || ''),
      el('p', {}, el('a', { href: `/#${layer.id}` }, 'Methode en bronnen')),
      el('label', { for: `dekking-${layer.id}` }, 'Dekking'), opacity,
      el('label', { for: `versie-${layer.id}` }, 'Versie'), version,
      legendNode(layer.legend)));
}
