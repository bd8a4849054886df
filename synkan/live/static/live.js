// synkan live: capture, drawing and UI only. Every number shown comes from the
// server, which measures each frame with synkan's own pipeline.
"use strict";

const settings = JSON.parse(document.getElementById("settings").textContent);
const $ = (id) => document.getElementById(id);
const stage = $("stage");
const sctx = stage.getContext("2d");
const source = $("source");
const grabber = document.createElement("canvas");
const gctx = grabber.getContext("2d");
const MAX_IN_FLIGHT = 3;      // frames sent and not yet answered; beyond this, frames are skipped
const JPEG_QUALITY = 0.85;
const VOL_RANGE = [-10, 50];  // % shown on the movement bar
const INV_RANGE = [-10, 30];  // percentage points shown on the eye-narrowing bar
const SIDE_COLOUR = { r: "#ff9f1c", l: "#2ec4f1" };
const SIDE_NAME = { r: "RIGHT", l: "LEFT" };

// State the tests and the benchmark read (window.synkanLive).
const live = {
  frames: [], events: [], latencies: [], measured: 0, dropped: 0, firstAt: null, lastAt: null, errors: [],
  inFlight: 0, nextId: 0, sentAt: new Map(), overlay: null, running: false, ws: null,
};
window.synkanLive = live;

function mirrored() { return $("mirror").checked; }

// Screen side ("left"/"right") on which the subject's side ("r"/"l") appears.
function screenSide(side) {
  const imageLeft = side === "r";  // camera view: the subject's right is image-left
  return (imageLeft !== mirrored()) ? "left" : "right";
}

function showOrientation() {
  const m = mirrored();
  $("edge-left").textContent = m ? "← your LEFT side" : "← subject's RIGHT side";
  $("edge-right").textContent = m ? "your RIGHT side →" : "subject's LEFT side →";
  $("orientation").textContent = m
    ? "Mirror view: your right side is on the right of the screen, as in a mirror. "
      + "The saved report uses the camera's view instead: the subject's right on the image's left."
    : "Camera view, as in the report: the subject's right is on the image's left.";
  placeInvoluntaryBar(live.involuntarySide || settings.affected || "right");
}

function placeInvoluntaryBar(side) {
  live.involuntarySide = side;
  const slot = $(screenSide(side === "left" ? "l" : "r") === "left" ? "slot-left" : "slot-right");
  const bar = $("bar-inv");
  if (bar.parentElement !== slot) slot.appendChild(bar);
  bar.querySelector(".label").textContent = `${side} eye narrows beyond the other (points)`;
}

function setBar(id, value, range, zone, over) {
  const bar = $(id);
  const horizontal = bar.classList.contains("horizontal");
  const share = (v) => Math.max(0, Math.min(1, (v - range[0]) / (range[1] - range[0]))) * 100;
  const fill = bar.querySelector(".fill");
  const z = bar.querySelector(".zone");
  const size = value === null ? 0 : share(value);
  const [z0, z1] = [share(zone[0]), share(zone[1])];
  if (horizontal) {
    fill.style.width = `${size}%`;
    z.style.left = `${z0}%`; z.style.width = `${z1 - z0}%`;
  } else {
    fill.style.height = `${size}%`;
    z.style.bottom = `${z0}%`; z.style.height = `${z1 - z0}%`;
  }
  bar.classList.toggle("over", Boolean(over));
  bar.querySelector(".value").textContent = value === null ? "–" : value.toFixed(1);
}

function targets() {
  return { volMin: Number($("vol-min").value), volMax: Number($("vol-max").value), invMax: Number($("inv-max").value) };
}

function showBars(bars) {
  const t = targets();
  const vol = bars ? bars.voluntary_pct : null;
  const inv = bars ? bars.involuntary_pp : null;
  setBar("bar-vol", vol, VOL_RANGE, [t.volMin, t.volMax], false);
  setBar("bar-inv", inv, INV_RANGE, [INV_RANGE[0], t.invMax], inv !== null && inv > t.invMax);
  if (bars) {
    const [label, unit] = bars.voluntary_label;
    $("bar-vol").querySelector(".label").textContent = `${label} (${unit})`;
    if (bars.involuntary_side !== live.involuntarySide) placeInvoluntaryBar(bars.involuntary_side);
  }
}

// --- drawing -------------------------------------------------------------------------------------
function toScreen(p) { return mirrored() ? [stage.width - p[0], p[1]] : p; }

function polyline(points, colour) {
  const pts = points.filter((p) => p[0] !== null && p[1] !== null).map(toScreen);
  if (pts.length < 2) return;
  sctx.strokeStyle = colour; sctx.lineWidth = 2; sctx.beginPath();
  sctx.moveTo(pts[0][0], pts[0][1]);
  for (const p of pts.slice(1)) sctx.lineTo(p[0], p[1]);
  sctx.stroke();
}

function label(text, p, colour) {
  sctx.font = "bold 15px system-ui, sans-serif"; sctx.fillStyle = colour; sctx.textAlign = "center";
  sctx.fillText(text, p[0], p[1]);
}

function drawOverlay(overlay) {
  for (const side of ["r", "l"]) {
    const lines = overlay.lids[side];
    if (!lines) continue;
    for (const line of lines) polyline(line, SIDE_COLOUR[side]);
    const top = lines[0].filter((p) => p[0] !== null);
    if (top.length) {
      const mid = toScreen(top[Math.floor(top.length / 2)]);
      label(`${SIDE_NAME[side]} eye`, [mid[0], mid[1] - 18], SIDE_COLOUR[side]);
    }
  }
  overlay.corners.forEach((c, k) => {
    if (c[0] === null) return;
    const side = k === 0 ? "r" : "l";
    const p = toScreen(c);
    sctx.fillStyle = SIDE_COLOUR[side]; sctx.beginPath(); sctx.arc(p[0], p[1], 5, 0, 2 * Math.PI); sctx.fill();
    label(SIDE_NAME[side], [p[0], p[1] + 22], SIDE_COLOUR[side]);
  });
}

// The camera image is the video element itself (mirrored by CSS); only the overlay is drawn, once per
// result: redrawing every camera frame into a canvas cost Chromium more than the whole measurement.
function drawOverlayNow() {
  const w = source.videoWidth, h = source.videoHeight;
  if (!w) return;
  if (stage.width !== w || stage.height !== h) { stage.width = w; stage.height = h; }
  source.classList.toggle("mirrored", mirrored());
  sctx.clearRect(0, 0, w, h);
  if (live.overlay) drawOverlay(live.overlay);
}

// --- capture -------------------------------------------------------------------------------------
function sendFrame() {
  const ws = live.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || live.inFlight >= MAX_IN_FLIGHT || !source.videoWidth) return;
  const captured = performance.now();
  if (grabber.width !== source.videoWidth || grabber.height !== source.videoHeight) {
    grabber.width = source.videoWidth; grabber.height = source.videoHeight;  // resizing clears and reallocates
  }
  gctx.drawImage(source, 0, 0);  // the camera's own pixels: never mirrored for measuring
  const id = live.nextId++;
  live.inFlight++;
  live.sentAt.set(id, captured);
  grabber.toBlob((blob) => blob.arrayBuffer().then((jpeg) => {
    const header = new DataView(new ArrayBuffer(12));
    header.setFloat64(0, captured, true);
    header.setUint32(8, id, true);
    const message = new Uint8Array(12 + jpeg.byteLength);
    message.set(new Uint8Array(header.buffer), 0);
    message.set(new Uint8Array(jpeg), 12);
    if (ws.readyState === WebSocket.OPEN) ws.send(message); else live.inFlight--;
  }), "image/jpeg", JPEG_QUALITY);
}

function onVideoFrame() {
  sendFrame();
  source.requestVideoFrameCallback(onVideoFrame);
}

async function openSource() {
  if (settings.video) {
    source.src = `/video?token=${encodeURIComponent(settings.token)}`;
    source.addEventListener("ended", () => { if (live.running) command({ type: "stop" }); });
    await new Promise((resolve, reject) => {
      source.addEventListener("loadeddata", () => { drawOverlayNow(); resolve(); }, { once: true });
      source.addEventListener("error", () => reject(new Error("the video cannot be played")), { once: true });
    });
    return "Video file (played through the same path as the camera).";
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  source.srcObject = stream;
  await source.play();
  return "Camera on. Nothing is stored unless you tick Record.";
}

// --- messages ------------------------------------------------------------------------------------
function command(message) { if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify(message)); }

function onFrame(msg) {
  live.inFlight = Math.max(0, live.inFlight - 1);
  live.overlay = msg.overlay || null;
  drawOverlayNow();
  if (msg.phase) showPhase(msg.phase);
  if (msg.bars) showBars(msg.bars);
  const now = performance.now();
  const sent = live.sentAt.get(msg.id);
  live.sentAt.delete(msg.id);
  if (sent !== undefined) live.latencies.push(now - sent);
  if (msg.server_ms !== undefined) (live.serverMs = live.serverMs || []).push(msg.server_ms);
  live.measured++;
  if (live.firstAt === null) live.firstAt = now;
  live.lastAt = now;
  if (msg.values) {
    live.frames.push({ id: msg.id, rec: msg.rec_frame, phase: msg.phase ? msg.phase.name : null, values: msg.values,
                       bars: msg.bars || null });
    if (live.frames.length > 20000) live.frames.shift();
  }
  if (msg.reps) showReps(msg.reps);
  if (msg.notice) $("message").textContent = msg.notice;
  $("status").textContent = msg.face ? "Face found." : "No face in view: face the camera.";
}

function showPhase(phase) {
  const names = { calibrate: "Calibrating", countdown: "Get ready", hold: "Hold", relax: "Relax", done: "Done" };
  const rep = phase.rep ? ` ${phase.movement.replace(/_/g, " ")} ${phase.rep}/${settings.reps}` : "";
  $("phase-name").textContent = names[phase.name] + rep;
  $("countdown").textContent = Number.isFinite(phase.remaining_s) && phase.name !== "done"
    ? `${Math.ceil(phase.remaining_s)} s` : "";
  $("instruction").textContent = phase.instruction;
}

function showReps(reps) {
  if (reps.length === live.shownReps) return;
  live.shownReps = reps.length;
  live.reps = reps;
  const body = $("reps").querySelector("tbody");
  body.replaceChildren(...reps.map((r) => {
    const row = document.createElement("tr");
    const cells = [r.movement.replace(/_/g, " "), r.rep, fmt(r.peak_voluntary_pct, " %"),
      `${fmt(r.involuntary_pp, " pts")} ${r.involuntary_side}`];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; row.appendChild(td); }
    return row;
  }));
  drawChart(reps);
}

function fmt(x, unit) { return x === null ? "–" : `${x.toFixed(1)}${unit}`; }

function drawChart(reps) {
  const chart = $("chart"), c = chart.getContext("2d");
  const w = chart.width, h = chart.height, base = h - 24, top = 16;
  c.clearRect(0, 0, w, h);
  const values = reps.flatMap((r) => [r.peak_voluntary_pct || 0, r.involuntary_pp || 0]);
  const hi = Math.max(10, ...values), lo = Math.min(0, ...values);
  const y = (v) => base - (v - lo) / (hi - lo) * (base - top);
  const step = Math.min(60, (w - 40) / Math.max(1, reps.length));
  c.strokeStyle = "#999"; c.beginPath(); c.moveTo(30, y(0)); c.lineTo(w, y(0)); c.stroke();
  c.font = "11px system-ui, sans-serif"; c.fillStyle = "#333"; c.textAlign = "right";
  c.fillText(hi.toFixed(0), 26, top + 4); c.fillText("0", 26, y(0) + 4);
  reps.forEach((r, k) => {
    const x = 36 + k * step;
    [[r.peak_voluntary_pct, "#2f6db3"], [r.involuntary_pp, "#c9541c"]].forEach(([v, colour], j) => {
      if (v === null) return;
      c.fillStyle = colour;
      c.fillRect(x + j * step * 0.4, Math.min(y(v), y(0)), step * 0.36, Math.abs(y(v) - y(0)));
    });
    c.fillStyle = "#333"; c.textAlign = "center";
    c.fillText(`${r.movement.slice(0, 6)} ${r.rep}`, x + step * 0.4, h - 8);
  });
  c.textAlign = "left"; c.fillStyle = "#2f6db3"; c.fillText("■ peak movement (%)", 40, 12);
  c.fillStyle = "#c9541c"; c.fillText("■ eye narrowing (points)", 190, 12);
}

function onMessage(event) {
  const msg = JSON.parse(event.data);
  live.events.push(msg.type);
  if (msg.type === "frame") onFrame(msg);
  else if (msg.type === "dropped") { live.inFlight = Math.max(0, live.inFlight - 1); live.dropped++; live.sentAt.delete(msg.id); }
  else if (msg.type === "started") {
    live.running = true;
    $("message").textContent = msg.record ? `Recording into ${msg.folder}` : "Not recording: nothing is stored.";
  } else if (msg.type === "stopped") {
    live.running = false; $("start").disabled = false; $("stop").disabled = true; $("record").disabled = false;
    $("phase-name").textContent = "Session over"; $("countdown").textContent = "";
    $("instruction").textContent = "Press Start to practise again.";
  } else if (msg.type === "saving") $("message").textContent = "Saving the video and analysing it…";
  else if (msg.type === "saved") { live.saved = msg; $("message").textContent = `Saved: ${msg.analysis}/report.html`; }
  else if (msg.type === "error") { live.errors.push(msg.message); $("message").textContent = msg.message; }
}

function start() {
  $("start").disabled = true; $("stop").disabled = false; $("record").disabled = true;
  live.frames = []; live.shownReps = -1; showReps([]);
  command({ type: "start", record: $("record").checked });
  if (settings.video) { source.currentTime = 0; source.play(); }
}

function stop() {
  command({ type: "stop" });
  if (settings.video) source.pause();
}

async function main() {
  $("mirror").addEventListener("change", () => { showOrientation(); drawOverlayNow(); });
  for (const id of ["vol-min", "vol-max", "inv-max"]) $(id).addEventListener("input", () => showBars(null));
  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  if (settings.video) $("mirror").checked = false;  // a file is shown as filmed, like the report
  showOrientation();
  showBars(null);
  try {
    $("status").textContent = await openSource();
  } catch (err) {
    $("status").textContent = `No camera: ${err.message}`;
    return;
  }
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(settings.token)}`);
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", onMessage);
  ws.addEventListener("open", () => { $("start").disabled = false; });
  ws.addEventListener("close", () => { $("status").textContent = "Disconnected from synkan."; });
  live.ws = ws;
  source.requestVideoFrameCallback(onVideoFrame);
}

main();
