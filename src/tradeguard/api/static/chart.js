/* Stacked bars of signals accepted and refused per minute, drawn as inline SVG. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const HEIGHT = 190;
  const PAD = { top: 10, right: 12, bottom: 24, left: 36 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach((key) => node.setAttribute(key, String(attrs[key])));
    if (parent) parent.appendChild(node);
    return node;
  }

  function label(parent, x, y, text, anchor) {
    const node = el("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    node.textContent = text;
    return node;
  }

  // A round upper bound for the y axis: 1, 2, 5 times a power of ten.
  function niceMax(value) {
    if (value <= 4) return 4;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  function hhmm(iso) {
    return String(iso).slice(11, 16);
  }

  function tooltip(minute) {
    if (minute.decisions === null) return hhmm(minute.minute) + " UTC: not counted (scan limit)";
    const parts = Object.keys(minute.by_decision || {}).map((k) => k + " " + minute.by_decision[k]);
    return hhmm(minute.minute) + " UTC: " + minute.decisions + " decided, " + minute.accepted +
      " accepted, " + minute.refused + " refused" + (parts.length ? " (" + parts.join(", ") + ")" : "");
  }

  function axes(svg, width, top) {
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    [0, 0.5, 1].forEach((f) => {
      const y = PAD.top + plotH * (1 - f);
      el("line", { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y, class: f === 0 ? "axis" : "grid" }, svg);
      label(svg, PAD.left - 6, y + 4, String(Math.round(top * f)), "end");
    });
  }

  function bars(svg, minutes, width, top) {
    const plotW = width - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const slot = plotW / minutes.length;
    const barW = Math.max(1, slot * 0.72);
    const scale = (n) => (n / top) * plotH;
    minutes.forEach((minute, i) => {
      const x = PAD.left + i * slot + (slot - barW) / 2;
      const group = el("g", { class: "bar" }, svg);
      el("title", {}, group).textContent = tooltip(minute);
      // an invisible full-height hit area makes every minute's tooltip reachable
      el("rect", { x: PAD.left + i * slot, y: PAD.top, width: slot, height: plotH, fill: "transparent" }, group);
      if (minute.decisions === null) {
        el("rect", { x: x, y: PAD.top, width: barW, height: plotH, class: "unknown" }, group);
        return;
      }
      const accepted = scale(minute.accepted);
      const refused = scale(minute.refused);
      const base = PAD.top + plotH;
      if (accepted > 0) el("rect", { x: x, y: base - accepted, width: barW, height: accepted, class: "accepted" }, group);
      if (refused > 0) el("rect", { x: x, y: base - accepted - refused, width: barW, height: refused, class: "refused" }, group);
      if (i % 15 === 0 || i === minutes.length - 1) {
        label(svg, PAD.left + i * slot + slot / 2, HEIGHT - 6, i === minutes.length - 1 ? "now" : hhmm(minute.minute));
      }
    });
  }

  /**
   * Draw `data.minutes` (the answer of GET /v1/decisions/counts) into `container`.
   */
  function render(container, data) {
    const minutes = (data && data.minutes) || [];
    const width = Math.max(320, Math.floor(container.clientWidth || 640));
    const svg = el("svg", { viewBox: "0 0 " + width + " " + HEIGHT, width: width, height: HEIGHT });
    const peak = minutes.reduce((m, x) => Math.max(m, x.decisions || 0), 0);
    const top = niceMax(peak);
    axes(svg, width, top);
    if (minutes.length) bars(svg, minutes, width, top);
    if (peak === 0) {
      label(svg, PAD.left + (width - PAD.left - PAD.right) / 2, PAD.top + 60, "no signals in the last hour").setAttribute("class", "empty");
    }
    container.replaceChildren(svg);
    return svg;
  }

  window.TradeguardChart = { render: render, niceMax: niceMax };
})();
