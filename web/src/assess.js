// Assess and play: a site (drawn, uploaded, or a clicked building), POST /assess, the panel with figures
// against their norms, scenarios (unpave, plant trees, add/remove a building), undo, PDF report, link.

import ImageLayer from 'ol/layer/Image.js';
import VectorLayer from 'ol/layer/Vector.js';
import Static from 'ol/source/ImageStatic.js';
import VectorSource from 'ol/source/Vector.js';
import Draw from 'ol/interaction/Draw.js';
import GeoJSON from 'ol/format/GeoJSON.js';
import { Circle as CircleStyle, Fill, Stroke, Style } from 'ol/style.js';
import { transform } from 'ol/proj.js';
import { $, api, dutchError, el, nl } from './util.js';

const RD = 'EPSG:28992';
// A norm is "bijna" (orange) when its value is within this share of the threshold without meeting it.
const NEAR_SHARE = 0.1;
const ZONES = [['site', 'Plangebied'], ['buffer', 'Omgeving']];
const ZONE_NAMES = Object.fromEntries(ZONES);
// A map click this soon after a drawing ended belongs to the drawing (OpenLayers' singleclick comes late).
const CLICK_AFTER_DRAW_MS = 600;
const OPERATORS = { '>=': '≥', '<=': '≤', '>': '>', '<': '<' };

const STYLES = {
  site: new Style({ stroke: new Stroke({ color: '#d7191c', width: 3 }), fill: new Fill({ color: 'rgba(215,25,28,0.06)' }) }),
  unpaved: new Style({ stroke: new Stroke({ color: '#1a9641', width: 1 }), fill: new Fill({ color: 'rgba(120,200,90,0.75)' }) }),
  crowns: new Style({ stroke: new Stroke({ color: '#00441b', width: 1.5 }), fill: new Fill({ color: 'rgba(35,139,69,0.7)' }) }),
  buildings_added: new Style({ stroke: new Stroke({ color: '#2b2b2b', width: 2 }), fill: new Fill({ color: 'rgba(120,120,160,0.8)' }) }),
  buildings_removed: new Style({ stroke: new Stroke({ color: '#d7191c', width: 2, lineDash: [6, 4] }), fill: new Fill({ color: 'rgba(255,255,255,0.4)' }) }),
  trees_removed: new Style({ image: new CircleStyle({ radius: 5, stroke: new Stroke({ color: '#d7191c', width: 2 }) }) }),
  pending: new Style({ image: new CircleStyle({ radius: 6, fill: new Fill({ color: '#238b45' }), stroke: new Stroke({ color: '#fff', width: 2 }) }) }),
};

function judge(row) {
  if (row.met) return ['goed', 'gehaald'];
  const t = Number(row.threshold);
  const v = Number(row.value);
  if (row.value !== null && Number.isFinite(t) && Number.isFinite(v) && Math.abs(v - t) <= Math.abs(t) * NEAR_SHARE) {
    return ['bijna', 'bijna gehaald'];
  }
  return ['fout', 'niet gehaald'];
}

export class Assessment {
  constructor(app, config, onState) {
    this.app = app;
    this.figures = config.figures;
    this.onState = onState;
    this.site = null; // GeoJSON geometry in RD New
    this.edits = [];
    this.undoStack = [];
    this.answers = new Map();
    this.answer = null;
    this.mode = null;
    this.pendingTrees = [];
    this.source = new VectorSource();
    this.layer = new VectorLayer({ source: this.source, zIndex: 900, style: (f) => STYLES[f.get('kind')] || STYLES.site });
    this.format = new GeoJSON();
    this.draw = null;
    this.drewAt = 0;
    this.wire();
  }

  // ---- wiring -------------------------------------------------------------------------------------------

  wire() {
    $('teken').addEventListener('click', () => this.startDraw('site'));
    $('upload').addEventListener('change', (e) => this.upload(e.target.files[0]));
    $('onthard-aandeel').addEventListener('input', () => { $('onthard-waarde').value = `${$('onthard-aandeel').value} %`; });
    $('onthard').addEventListener('click', () => this.addEdit({ op: 'unpave', share: Number($('onthard-aandeel').value) / 100 }));
    $('onthard-teken').addEventListener('click', () => this.startDraw('unpave'));
    $('bomen-klik').addEventListener('click', () => this.setMode(this.mode === 'trees' ? null : 'trees'));
    $('bomen').addEventListener('click', () => this.plant());
    $('gebouw-teken').addEventListener('click', () => this.startDraw('building'));
    $('gebouw-weg').addEventListener('click', () => this.setMode(this.mode === 'remove' ? null : 'remove'));
    $('doorrekenen').addEventListener('click', () => this.run());
    $('ongedaan').addEventListener('click', () => this.undo());
    $('pdf').addEventListener('click', () => this.pdf());
    $('kopieer').addEventListener('click', () => this.copyLink());
    $('buffer').addEventListener('change', () => { if (this.site) this.run(); });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || !this.draw) return;
      this.map.removeInteraction(this.draw);
      this.draw = null;
      delete document.body.dataset.tekenen;
      this.message('Tekenen afgebroken.', 'hint');
    });
  }

  attach(map) {
    this.map = map;
    map.addLayer(this.layer);
    this.redraw();
  }

  viewCrs() {
    return this.map.getView().getProjection().getCode();
  }

  toRd(coordinate) {
    return transform(coordinate, this.viewCrs(), RD).map((v) => Math.round(v * 100) / 100);
  }

  setMode(mode) {
    this.mode = mode;
    $('bomen-klik').setAttribute('aria-pressed', String(mode === 'trees'));
    $('gebouw-weg').setAttribute('aria-pressed', String(mode === 'remove'));
    if (mode !== 'trees') this.pendingTrees = [];
    this.redraw();
  }

  /** A map click in a scenario mode: plant a tree there or remove the building there. True when handled. */
  handleClick(event) {
    // A click while drawing (or the one that closed the drawing) is a vertex, not an identify.
    if (this.draw || Date.now() - this.drewAt < CLICK_AFTER_DRAW_MS) return true;
    if (this.mode === 'trees') {
      this.pendingTrees.push(this.toRd(event.coordinate));
      $('bomen').textContent = `Plant ${this.pendingTrees.length} geklikte bomen`;
      this.redraw();
      return true;
    }
    if (this.mode === 'remove') {
      this.removeAt(event.coordinate);
      return true;
    }
    return false;
  }

  startDraw(purpose) {
    if (this.draw) this.map.removeInteraction(this.draw);
    if (purpose !== 'site' && !this.site) {
      this.message('Teken of kies eerst een plangebied.');
      return;
    }
    this.draw = new Draw({ type: 'Polygon', source: undefined });
    this.draw.on('drawend', (event) => {
      const geometry = event.feature.getGeometry().clone().transform(this.viewCrs(), RD);
      const rounded = { type: 'Polygon',
        coordinates: geometry.getCoordinates().map((ring) => ring.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100])) };
      this.map.removeInteraction(this.draw);
      this.draw = null;
      this.drewAt = Date.now();
      delete document.body.dataset.tekenen;
      if (purpose === 'site') this.setSite(rounded, true);
      else if (purpose === 'unpave') this.addEdit({ op: 'unpave', geometry: rounded });
      else this.addEdit({ op: 'add_building', geometry: rounded, height_m: Number($('gebouw-hoogte').value) });
    });
    this.map.addInteraction(this.draw);
    document.body.dataset.tekenen = purpose;
    this.message(purpose === 'site' ? 'Klik de hoekpunten van het plangebied; dubbelklik om af te sluiten.'
      : 'Klik de hoekpunten; dubbelklik om af te sluiten.', 'hint');
  }

  // ---- site ---------------------------------------------------------------------------------------------

  async setSite(geometry, run = true) {
    this.site = geometry;
    this.edits = [];
    this.undoStack = [];
    this.answers.clear();
    this.answer = null;
    this.drawn = null;
    this.redraw();
    if (run) await this.run();
  }

  async upload(file) {
    if (!file) return;
    const form = new FormData();
    form.append('file', file, file.name);
    await this.busy(async () => {
      const feature = await (await api('/map/api/site', { method: 'POST', body: form })).json();
      await this.setSite(feature.geometry, false);
      this.zoomToSite();
    }, true);
    $('upload').value = '';
    if (this.site && !this.answer) await this.run();
  }

  async fromBag(bagId) {
    await this.busy(async () => {
      const feature = await (await api('/map/api/site', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ bag_id: bagId }) })).json();
      await this.setSite(feature.geometry, false);
    }, true);
    if (this.site) await this.run();
  }

  zoomToSite() {
    const feature = this.format.readFeature({ type: 'Feature', geometry: this.site }, { dataProjection: RD, featureProjection: this.viewCrs() });
    this.map.getView().fit(feature.getGeometry().getExtent(), { padding: [80, 80, 80, 80], maxZoom: 16 });
  }

  // ---- scenario -----------------------------------------------------------------------------------------

  plant() {
    const crown = Number($('kroon').value);
    const height = Number($('hoogte').value);
    const edit = this.pendingTrees.length
      ? { op: 'plant_trees', points: this.pendingTrees, crown_diameter_m: crown, height_m: height }
      : { op: 'plant_trees', count: Number($('bomen-aantal').value), crown_diameter_m: crown, height_m: height };
    this.pendingTrees = [];
    $('bomen').textContent = 'Plant bomen';
    this.setMode(null);
    this.addEdit(edit);
  }

  async removeAt(coordinate) {
    const [x, y] = this.toRd(coordinate);
    const params = new URLSearchParams({ layers: 'basemap', x, y, resolution: String(this.map.getView().getResolution()) });
    const answer = await (await api(`/map/api/identify?${params}`)).json();
    const hit = answer.layers.flatMap((l) => l.features).find((f) => f.bag_id);
    this.setMode(null);
    if (!hit) {
      this.message('Daar staat geen pand. Klik op een gebouw binnen het plangebied.');
      return;
    }
    this.addEdit({ op: 'remove_building', id: hit.bag_id });
  }

  async addEdit(edit) {
    if (!this.site) {
      this.message('Teken of kies eerst een plangebied.');
      return;
    }
    this.undoStack.push(this.edits);
    this.edits = [...this.edits, edit];
    const ok = await this.run();
    if (!ok) this.edits = this.undoStack.pop();
    this.renderEdits();
  }

  async undo() {
    if (!this.undoStack.length) {
      this.message('Er is niets om ongedaan te maken.', 'hint');
      return;
    }
    this.edits = this.undoStack.pop();
    await this.run();
    this.renderEdits();
  }

  renderEdits() {
    const names = { unpave: 'Ontharden', plant_trees: 'Bomen planten', add_building: 'Gebouw toevoegen', remove_building: 'Gebouw verwijderen' };
    $('ingrepen').replaceChildren(...this.edits.map((e) => el('li', {}, names[e.op] || e.op,
      e.share !== undefined ? ` (${nl(e.share * 100, 0)} % van de verharding)` : '',
      e.count ? ` (${e.count} bomen, kroon ${e.crown_diameter_m} m, ${e.height_m} m hoog)` : '',
      e.points ? ` (${e.points.length} bomen, kroon ${e.crown_diameter_m} m, ${e.height_m} m hoog)` : '',
      e.op === 'add_building' ? ` (${e.height_m} m hoog)` : '', e.id ? ` (pand ${e.id})` : '')));
  }

  // ---- requests -----------------------------------------------------------------------------------------

  body(extra = {}) {
    const body = { geometry: this.site, crs: RD, buffer_m: Number($('buffer').value) || 0, ...extra };
    if (this.edits.length) {
      body.edits = this.edits;
      body.maps = true; // what the scenario changes in uhi_max and the shade, as overlays
    }
    return body;
  }

  /** The scenario's change overlays of the answer (uhi_max, shade) on the map, replacing earlier ones. */
  showOverlays(maps) {
    for (const layer of this.overlays || []) this.map.removeLayer(layer);
    this.overlays = (maps || []).map((m, i) => {
      const layer = new ImageLayer({
        source: new Static({ url: m.image, imageExtent: m.bounds, projection: m.crs }),
        opacity: 0.85, zIndex: 850 + i, visible: i === 0,
      });
      layer.set('kaartlaag', `verandering-${m.output}`);
      this.map.addLayer(layer);
      return layer;
    });
    if (!maps || !maps.length) return null;
    const box = el('div', { class: 'verandering', id: 'verandering' }, el('h3', {}, 'Verandering op de kaart'));
    maps.forEach((m, i) => {
      const input = el('input', { type: 'radio', name: 'verandering', id: `verandering-${m.output}`, value: m.output });
      input.checked = i === 0;
      input.addEventListener('change', () => this.overlays.forEach((l, k) => l.setVisible(k === i)));
      box.append(el('p', {}, input, el('label', { for: `verandering-${m.output}` },
        `${m.title} (${nl(m.changed_cells, 0)} cellen veranderd)`)));
      box.append(el('ul', { class: 'legenda', 'data-output': m.output },
        m.legend.map((c) => el('li', {}, el('span', { class: 'kleur', style: `background:${c.colour}` }), c.label))));
    });
    return box;
  }

  async busy(work, isSite = false) {
    $('voortgang').hidden = false;
    $('melding').hidden = true;
    document.body.dataset.bezig = '1';
    try {
      await work();
      return true;
    } catch (error) {
      const { text, detail } = dutchError(error, isSite ? 'plangebied' : 'scenario');
      this.message(text, 'fout', detail);
      return false;
    } finally {
      $('voortgang').hidden = true;
      delete document.body.dataset.bezig;
    }
  }

  async run() {
    if (!this.site) return false;
    const key = JSON.stringify(this.body());
    const cached = this.answers.get(key);
    if (cached) {
      this.show(cached.answer, cached.drawn);
      return true;
    }
    const hadAnswer = Boolean(this.answer);
    const ok = await this.busy(async () => {
      const response = await api('/assess', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: key });
      const answer = await response.json();
      let drawn = null;
      if (this.edits.length) {
        drawn = await (await api('/map/api/edits', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ geometry: this.site, crs: RD, edits: this.edits }) })).json();
      }
      this.answers.set(key, { answer, drawn });
      this.show(answer, drawn);
    }, !this.edits.length);
    if (!ok && !hadAnswer && !this.edits.length) {
      // A site the server refused is not kept: the map stays as it was.
      this.site = null;
      this.redraw();
      this.onState();
    }
    return ok;
  }

  async pdf() {
    await this.busy(async () => {
      const response = await api('/assess/report.pdf', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(this.body()) });
      const url = URL.createObjectURL(await response.blob());
      const a = el('a', { href: url, download: 'beoordeling-plangebied.pdf' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    });
  }

  async copyLink() {
    const link = $('deel-link');
    link.hidden = false;
    link.value = location.href;
    link.select();
    try {
      await navigator.clipboard.writeText(location.href);
      this.message('De link staat op het klembord.', 'hint');
    } catch (e) {
      this.message('Kopieer de link hieronder (Ctrl+C).', 'hint');
    }
  }

  message(text, kind = 'fout', detail = '') {
    const box = $('melding');
    box.className = `melding ${kind}`;
    box.replaceChildren(text, detail ? el('small', {}, ` (${detail})`) : '');
    box.hidden = false;
  }

  // ---- display ------------------------------------------------------------------------------------------

  show(answer, drawn) {
    this.answer = answer;
    this.drawn = drawn;
    $('scenario').hidden = false;
    $('rapport-knoppen').hidden = false;
    $('melding').hidden = true;
    const out = $('uitkomst');
    const scenario = Boolean(answer.after);
    out.replaceChildren(
      el('p', { class: 'versie' }, `Catalogusversie invoer ${answer.version.inputs}; omgeving ${nl(answer.buffer_m, 0)} m.`),
      ...ZONES.map(([zone, title]) => this.figureTable(answer, zone, title, scenario)),
      this.normTable(scenario ? answer.thresholds_after : answer.thresholds, scenario ? 'Normen na het scenario' : 'Normen'),
      scenario ? this.normTable(answer.thresholds, 'Normen nu') : null,
      answer.edit_summary ? this.summary(answer.edit_summary) : null,
      answer.warnings && answer.warnings.length ? el('ul', { class: 'waarschuwingen' }, answer.warnings.map((w) => el('li', {}, w))) : null,
      scenario ? el('p', { class: 'hint' }, 'Op de kaart: nieuwe kronen, onthard terrein en gebouwen van het scenario, '
        + 'en wat het scenario verandert aan het hitte-eiland en de schaduw (kies hieronder).') : null,
      this.showOverlays(scenario ? answer.maps : null),
    );
    out.dataset.scenario = scenario ? '1' : '0';
    this.redraw();
    this.onState();
  }

  fmt(key, value, signed = false) {
    const f = this.figures[key] || { decimals: 2, unit: '' };
    if (value === null || value === undefined) return '–';
    if (typeof value !== 'number') return String(value);
    const rounded = Number(value.toFixed(f.decimals));
    const text = nl(rounded === 0 ? 0 : rounded, f.decimals); // never "-0,0"
    return `${signed && rounded > 0 ? '+' : ''}${text}${f.unit ? ` ${f.unit}` : ''}`;
  }

  figureTable(answer, zone, title, scenario) {
    const before = scenario ? answer.before[zone] : answer[zone];
    const keys = Object.keys(this.figures).filter((k) => k in before).concat(Object.keys(before).filter((k) => !(k in this.figures)));
    const head = scenario ? ['Kengetal', 'Nu', 'Scenario', 'Verschil'] : ['Kengetal', 'Waarde'];
    const rows = keys.map((k) => {
      const f = this.figures[k] || { label: k };
      const cells = [el('th', { scope: 'row' }, f.label), el('td', { 'data-key': k, 'data-value': before[k] }, this.fmt(k, before[k]))];
      if (scenario) {
        const after = answer.after[zone][k];
        const delta = answer.delta[zone][k];
        let mark = '';
        // No mark for a change that rounds to zero at the figure's decimals (as in the report).
        const shown = typeof delta === 'number' ? Number(delta.toFixed(f.decimals ?? 2)) : 0;
        if (shown !== 0 && f.better !== null && f.better !== undefined) {
          mark = (delta > 0) === f.better ? 'beter' : 'slechter';
        }
        cells.push(el('td', { class: 'na', 'data-key': k, 'data-value': after }, this.fmt(k, after)),
          el('td', { class: `verschil ${mark}`, 'data-key': k, 'data-value': delta }, this.fmt(k, delta, true), mark ? ` (${mark})` : ''));
      }
      return el('tr', {}, cells);
    });
    return el('table', { class: 'kengetallen', 'data-zone': zone },
      el('caption', {}, title),
      el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows));
  }

  normTable(rows, caption) {
    return el('table', { class: 'normen' }, el('caption', {}, caption),
      el('thead', {}, el('tr', {}, ['Kengetal', 'Waarde', 'Norm', 'Oordeel', 'Bron'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, (rows || []).map((row) => {
        const [cls, text] = judge(row);
        const f = this.figures[row.figure] || { label: row.figure };
        return el('tr', { class: cls, 'data-figure': row.figure },
          el('th', { scope: 'row' }, `${f.label} (${ZONE_NAMES[row.zone] || row.zone})`),
          el('td', {}, this.fmt(row.figure, row.value)),
          el('td', {}, `${OPERATORS[row.operator] || row.operator} ${this.fmt(row.figure, row.threshold)}`),
          el('td', { class: 'oordeel' }, el('span', { class: `merk ${cls}`, 'aria-hidden': 'true' }), text),
          el('td', { class: 'bron' }, row.source));
      })));
  }

  summary(s) {
    const parts = [];
    if (s.unpaved_m2) parts.push(`${nl(s.unpaved_m2, 0)} m² onthard`);
    if (s.trees_added) parts.push(`${s.trees_added} bomen geplant (${nl(s.crown_area_added_m2, 0)} m² kroon)`);
    if (s.buildings_added) parts.push(`${s.buildings_added} gebouw(en) toegevoegd (${nl(s.building_area_added_m2, 0)} m²)`);
    if (s.buildings_removed) parts.push(`${s.buildings_removed} gebouw(en) verwijderd (${nl(s.building_area_removed_m2, 0)} m²)`);
    if (s.trees_removed) parts.push(`${s.trees_removed} bomen gekapt`);
    return el('p', { class: 'samenvatting' }, `Scenario: ${parts.join('; ') || 'geen wijziging'}.`);
  }

  redraw() {
    if (!this.map) return;
    this.source.clear();
    const options = { dataProjection: RD, featureProjection: this.viewCrs() };
    if (this.drawn) {
      for (const [kind, collection] of Object.entries(this.drawn)) {
        for (const feature of this.format.readFeatures(collection, options)) {
          feature.set('kind', kind);
          this.source.addFeature(feature);
        }
      }
    }
    if (this.site) {
      const site = this.format.readFeature({ type: 'Feature', geometry: this.site, properties: { kind: 'site' } }, options);
      this.source.addFeature(site);
    }
    for (const point of this.pendingTrees) {
      const f = this.format.readFeature({ type: 'Feature', geometry: { type: 'Point', coordinates: point }, properties: { kind: 'pending' } }, options);
      this.source.addFeature(f);
    }
  }

  // ---- URL state ----------------------------------------------------------------------------------------

  writeState(params) {
    if (!this.site) return;
    params.set('site', JSON.stringify(this.site.coordinates));
    params.set('buffer', $('buffer').value);
    if (this.edits.length) params.set('sc', JSON.stringify(this.edits));
  }

  async restore(params) {
    if (!params.has('site')) return;
    try {
      const coordinates = JSON.parse(params.get('site'));
      if (params.has('buffer')) $('buffer').value = params.get('buffer');
      this.site = { type: 'Polygon', coordinates };
      this.edits = params.has('sc') ? JSON.parse(params.get('sc')) : [];
      this.redraw();
      await this.run();
      this.renderEdits();
    } catch (error) {
      this.message('De link bevat een onleesbaar plangebied of scenario.', 'fout', error.message);
    }
  }
}

