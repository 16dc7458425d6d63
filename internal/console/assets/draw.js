// Drawing helpers of the console: SVG elements, the map projection, the
// schematic rivers and the chart geometry. No data of their own.
const NS = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched

export function svgEl(name, attrs) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) { el.setAttribute(k, String(v)); }
  return el;
}

// project fits the stations' coordinates into a w×h box with a margin: an
// equirectangular projection with the longitude scaled by cos(latitude),
// good for a city-sized area. pr(s) → [x, y]; pr.kmPx(km) → pixels.
export function project(stations, w, h, margin) {
  const lats = stations.map((s) => s.lat);
  const lons = stations.map((s) => s.lon);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const minX = Math.min(...lons) * k, maxX = Math.max(...lons) * k;
  const minY = Math.min(...lats), maxY = Math.max(...lats);
  const scale = Math.min((w - 2 * margin) / Math.max(maxX - minX, 1e-6), (h - 2 * margin) / Math.max(maxY - minY, 1e-6));
  const ox = (w - (maxX - minX) * scale) / 2, oy = (h - (maxY - minY) * scale) / 2;
  const pr = (s) => [Math.round(ox + (s.lon * k - minX) * scale), Math.round(h - oy - (s.lat - minY) * scale)];
  pr.kmPx = (km) => Math.round((km / 111.32) * scale); // one degree of latitude ≈ 111.32 km
  return pr;
}

// riverLines groups the stations by river and orders each river's gauges
// from west to east (the rivers of Đà Nẵng and Quảng Nam flow east to the
// sea): a schematic, not the river's course.
export function riverLines(stations) {
  const by = new Map();
  for (const s of stations) {
    if (!s.river) { continue; }
    if (!by.has(s.river)) { by.set(s.river, []); }
    by.get(s.river).push(s);
  }
  const out = [];
  for (const [river, list] of by) {
    list.sort((a, b) => a.lon - b.lon);
    out.push({ river, stations: list });
  }
  return out;
}

// chartGeometry lays out 24 h of readings ending at now with the alarm
// levels: points [[x, y]], threshold lines, ticks.
export function chartGeometry(readings, thresholds, now, w, h) {
  const left = 44, right = w - 48, top = 20, bottom = h - 24;
  const t0 = now - 24 * 3600 * 1000;
  const vals = readings.map((r) => r.value);
  const ths = [];
  if (thresholds) {
    for (const name of ["I", "II", "III"]) {
      if (typeof thresholds[name] === "number" && thresholds[name] !== 0) { ths.push({ name, v: thresholds[name] }); }
    }
  }
  const all = vals.concat(ths.map((x) => x.v));
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) { hi = lo + 1; }
  const pad = (hi - lo) * 0.1;
  lo -= pad; hi += pad;
  const x = (ts) => Math.round(left + ((ts - t0) / (now - t0)) * (right - left));
  const y = (v) => Math.round(bottom - ((v - lo) / (hi - lo)) * (bottom - top));
  const points = readings
    .map((r) => [Date.parse(r.ts), r.value])
    .filter(([ts]) => ts >= t0)
    .map(([ts, v]) => [Math.min(x(ts), right), y(v)]);
  const yTicks = [];
  for (let i = 0; i <= 4; i++) { const v = lo + ((hi - lo) * i) / 4; yTicks.push({ v, y: y(v) }); }
  const xTicks = [];
  for (let i = 0; i <= 4; i++) { const ts = t0 + (i * (now - t0)) / 4; xTicks.push({ t: ts, x: x(ts) - 14 }); }
  return { left, right, top, bottom, points, thresholds: ths.map((th) => ({ name: th.name, y: y(th.v) })), yTicks, xTicks };
}

// placeLabels puts each label next to its point without covering another
// label or point: items [{x, y, w, h}] (the point and the label's size);
// obstacles [{x, y, w, h}] boxes already drawn; bounds {w, h}. It tries, in
// order, right, left, above, below and right/left shifted by a line, and
// keeps the first place that covers nothing and stays inside the bounds
// (else the place that covers least). Returns [{x, y}]: the top left
// corner of each label's box.
export function placeLabels(items, obstacles, bounds) {
  const r = 7, gap = 3;
  const placed = obstacles.slice();
  for (const it of items) { placed.push({ x: it.x - r, y: it.y - r, w: 2 * r, h: 2 * r }); }
  const area = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const out = [];
  items.forEach((it, i) => {
    const own = obstacles.length + i;
    const right = it.x + r + gap, left = it.x - r - gap - it.w, mid = it.x - it.w / 2;
    const cands = [
      { x: right, y: it.y - it.h / 2 }, { x: left, y: it.y - it.h / 2 },
      { x: mid, y: it.y - r - gap - it.h }, { x: mid, y: it.y + r + gap },
      { x: right, y: it.y - it.h * 1.5 }, { x: right, y: it.y + it.h / 2 },
      { x: left, y: it.y - it.h * 1.5 }, { x: left, y: it.y + it.h / 2 },
    ];
    let best = null, bestCost = Infinity;
    for (const c of cands) {
      const box = { x: c.x, y: c.y, w: it.w, h: it.h };
      let cost = 0;
      placed.forEach((p, j) => { if (j !== own) { cost += area(box, p); } });
      const outside = it.w * it.h - area(box, { x: 0, y: 0, w: bounds.w, h: bounds.h });
      cost += 2 * outside;
      if (cost < bestCost) { best = box; bestCost = cost; }
      if (cost === 0) { break; }
    }
    placed.push(best);
    out.push({ x: best.x, y: best.y });
  });
  return out;
}
