// The attendance desk: a page over facerec's JSON API (the same one curl and scripts use).
// The API key lives in this tab's sessionStorage and goes out only as the X-API-Key header;
// pictures are fetched with it and shown from blob: URLs (the API marks them no-store).

const $ = (selector) => document.querySelector(selector);
const KEY = "facerec-key";
const state = { me: null, pending: [], blobs: [], kiosk: null, feed: null, report: null, shown: null };

// --- talking to the API ------------------------------------------------------------------------

async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form) body = form;
  const response = await fetch(path, { method, headers, body, cache: "no-store" });
  if (!response.ok) {
    let data = null;
    try { data = await response.json(); } catch { /* not JSON */ }
    const error = new Error((data && data.detail) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

async function picture(path) {
  const response = await api(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  state.blobs.push(url);
  return url;
}

function img(path, alt) {
  // The description is set once the picture is there: a browser shows alt text in its place
  // while it loads, which reads as a broken page.
  const element = document.createElement("img");
  element.alt = "";
  element.dataset.alt = alt;
  element.addEventListener("load", () => { element.alt = alt; }, { once: true });
  picture(path).then((url) => { element.src = url; }).catch(() => { element.alt = `${alt} (unavailable)`; });
  return element;
}

function say(text, kind = "ok") {
  const message = $("#message");
  message.textContent = text;
  message.className = kind;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");
const allowed = (role) => state.me && state.me.allows.includes(role);
const person = (name) => `/v1/persons/${encodeURIComponent(name)}`;

// --- signing in and pages ----------------------------------------------------------------------

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    state.me = await api("/v1/me");
  } catch (error) {
    sessionStorage.removeItem(KEY);
    state.me = null;
    say(error.status === 401 ? "That key is not valid (or was revoked)." : error.message, "error");
    return false;
  }
  for (const link of document.querySelectorAll("[data-role]")) link.hidden = !allowed(link.dataset.role);
  $("#nav").hidden = false;
  say(`Signed in as ${state.me.name} (${state.me.role}).`);
  return true;
}

function signOut() {
  sessionStorage.removeItem(KEY);
  state.me = null;
  stopKiosk();
  stopFeed();
  state.blobs.forEach((url) => URL.revokeObjectURL(url));
  state.blobs = [];
  // Nothing the previous key saw stays on the page for the next one: faces, names, reports.
  for (const list of ["#kiosk-events", "#feed-events", "#people-list", "#enrol-pending", "#enrol-outcome",
    "#report-table tbody", "#unknowns", "#spoofs", "#audit-table tbody"]) $(list).replaceChildren();
  $("#report-count").textContent = "";
  state.pending = [];
  state.report = null;
  $("#nav").hidden = true;
  location.hash = "";
  show("sign-in");
  say("Signed out.");
}

const PAGES = { people: loadPeople, kiosk: () => {}, feed: startFeed, attendance: loadAttendance, settings: loadSettings };

function show(page) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== page;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.hash === `#${page}`);
  if (page !== "kiosk") stopKiosk();
  if (page !== "feed") stopFeed();
}

async function route() {
  if (!state.me) { show("sign-in"); return; }
  const wanted = location.hash.slice(1);
  const fallback = allowed("read") ? "people" : "kiosk";
  const page = wanted in PAGES && allowed(document.querySelector(`nav a[href="#${wanted}"]`).dataset.role) ? wanted : fallback;
  if (state.shown && state.shown !== page) say("");
  state.shown = page;
  show(page);
  try { await PAGES[page](); } catch (error) { say(error.message, "error"); }
}

// --- people ------------------------------------------------------------------------------------

async function loadPeople() {
  const people = await api("/v1/persons");
  const list = $("#people-list");
  list.replaceChildren();
  for (const entry of people) {
    const crops = element("div", { class: "crops" });
    const item = element(
      "li",
      { "data-name": entry.name, "data-search": `${entry.name} ${entry.groups.join(" ")}`.toLowerCase() },
      element("span", { class: "name" }, entry.name),
      element("span", { class: "meta" }, `${entry.samples} samples · last seen ${when(entry.last_seen)}`),
      entry.groups.length ? element("span", { class: "meta" }, `groups: ${entry.groups.join(", ")}`) : null,
      crops,
    );
    if (allowed("enrol")) {
      item.append(element("div", { class: "actions" },
        element("button", { type: "button", class: "quiet", onclick: () => rename(entry.name) }, "Rename"),
        element("button", { type: "button", class: "danger", onclick: () => remove(entry) }, "Remove")));
    }
    list.append(item);
    api(`${person(entry.name)}/samples`).then((samples) => {
      for (const sample of samples.slice(0, 4)) crops.append(img(`/v1/samples/${sample.id}/crop`, `${entry.name}, sample ${sample.id}`));
    }).catch(() => {});
  }
  filterPeople();
}

function filterPeople() {
  const words = $("#search").value.trim().toLowerCase();
  for (const item of $("#people-list").children) item.hidden = Boolean(words) && !item.dataset.search.includes(words);
}

async function rename(name) {
  const next = prompt(`A new name for ${name}:`, name);
  if (!next || next === name) return;
  try {
    await api(person(name), { method: "PATCH", json: { name: next } });
    say(`${name} is now ${next}.`);
    await loadPeople();
  } catch (error) { say(error.message, "error"); }
}

async function remove(entry) {
  $("#confirm-text").textContent =
    `Remove ${entry.name}? This deletes their ${entry.samples} samples (photos' face crops and embeddings), ` +
    "every attendance event and snapshot of theirs, and their group memberships. It cannot be undone.";
  const dialog = $("#confirm");
  dialog.showModal();
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      const done = await api(person(entry.name), { method: "DELETE" });
      say(`Removed ${done.removed} (${done.samples} samples).`);
      await loadPeople();
    } catch (error) { say(error.message, "error"); }
  }, { once: true });
}

function addPending(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) continue;
    const entry = { label: file.name || `webcam ${state.pending.length + 1}`, blob: file };
    state.pending.push(entry);
    const url = URL.createObjectURL(file);
    state.blobs.push(url);
    const item = element("li", { "data-label": entry.label });
    const drop = () => { state.pending = state.pending.filter((p) => p !== entry); };
    const picture = element("img", { alt: "" });
    // A file named .jpg that is not a picture: said by name and left out, not a broken thumbnail.
    picture.addEventListener("error", () => {
      drop();
      item.className = "skipped";
      item.replaceChildren(`${entry.label}: not an image, left out`);
    }, { once: true });
    picture.addEventListener("load", () => { picture.alt = entry.label; }, { once: true });
    picture.src = url;
    item.append(picture, element("button", {
      type: "button", class: "quiet remove", title: `Leave ${entry.label} out`, "aria-label": `Leave ${entry.label} out`,
      onclick: () => { drop(); item.remove(); },
    }, "×"));
    $("#enrol-pending").append(item);
  }
}

async function enrol(event) {
  event.preventDefault();
  const name = $("#enrol-name").value.trim();
  if (!name || !state.pending.length) { say("Give a name and at least one photo.", "error"); return; }
  const form = new FormData();
  for (const photo of state.pending) form.append("images", photo.blob, photo.label);
  const labels = state.pending.map((p) => p.label);
  $("#enrol-submit").disabled = true;
  const outcome = $("#enrol-outcome");
  outcome.replaceChildren();
  try {
    let report;
    try {
      report = await api(`${person(name)}/images`, { method: "POST", form });
    } catch (error) {
      // No photo added: the answer is still the report, saying why each was skipped.
      if (error.status !== 422 || !error.data || !Array.isArray(error.data.skipped)) throw error;
      report = error.data;
    }
    showOutcome(report, labels);
  } catch (error) {
    say(error.message, "error");
  } finally {
    $("#enrol-submit").disabled = false;
  }
}

function label(file, labels) {
  const index = Number(String(file).split(":")[1]);
  return Number.isInteger(index) && labels[index] ? labels[index] : file;
}

function showOutcome(report, labels) {
  const outcome = $("#enrol-outcome");
  for (const file of report.added) outcome.append(element("li", { class: "added" }, `${label(file, labels)}: added`));
  for (const skip of report.skipped) outcome.append(element("li", { class: "skipped" }, `${label(skip.file, labels)}: ${skip.reason}`));
  say(`${report.name}: ${report.added.length} added, ${report.skipped.length} skipped, ${report.samples} samples held.`,
    report.added.length ? "ok" : "error");
  state.pending = [];
  $("#enrol-pending").replaceChildren();
  $("#enrol-files").value = "";
  loadPeople().catch(() => {});
}

async function startEnrolCamera() {
  const video = $("#enrol-video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
  } catch (error) { say(`No camera: ${error.message}`, "error"); return; }
  video.hidden = false;
  $("#camera-shot").hidden = false;
  $("#camera-clip").hidden = false;
  await video.play();
}

// Enrolment from the webcam as from a clip (facerec enroll NAME CLIP): three seconds of frames,
// the person followed by the server, the best and most varied faces enrolled.
async function enrolClip() {
  const name = $("#enrol-name").value.trim();
  if (!name) { say("Give a name first.", "error"); return; }
  const video = $("#enrol-video");
  const button = $("#camera-clip");
  button.disabled = true;
  const form = new FormData();
  try {
    for (let i = 0; i < 15; i += 1) {
      const { blob } = await frame(video);
      form.append("frames", blob, `frame-${i}.jpg`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    $("#enrol-outcome").replaceChildren();
    let report;
    try {
      report = await api(`${person(name)}/clip?fps=5`, { method: "POST", form });
    } catch (error) {
      if (error.status !== 422 || !error.data || !Array.isArray(error.data.skipped)) throw error;
      report = error.data;
    }
    showOutcome(report, []);
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

async function frame(video, type = "image/jpeg") {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return { canvas, blob: await new Promise((resolve) => canvas.toBlob(resolve, type, 0.92)) };
}

// --- check-in kiosk ----------------------------------------------------------------------------

async function checkIn(blob, source, canvas, session) {
  const form = new FormData();
  form.append("image", blob, "frame.jpg");
  form.append("source", source);
  // The camera's frames share one session: a person in front of it is checked in once.
  if (session) form.append("session", session);
  const answer = await api("/v1/checkin", { method: "POST", form });
  for (const event of answer.events) {
    if (event.event !== "check_in" && event.event !== "update") continue;
    const face = canvas ? cropOf(canvas, event.box) : null;
    $("#kiosk-events").prepend(element("li", { "data-name": event.name || "" }, face,
      element("span", { class: "who" }, event.name || "unknown"),
      element("span", { class: "when" }, `${event.event === "check_in" ? "checked in" : "seen again"} ${when(event.time)}`)));
  }
  return answer.events;
}

function cropOf(canvas, box) {
  if (!box) return null;
  const [x, y, w, h] = box;
  const out = document.createElement("canvas");
  out.width = 96;
  out.height = 96;
  out.getContext("2d").drawImage(canvas, x, y, w, h, 0, 0, 96, 96);
  const picture = element("img", { alt: "face" });
  picture.src = out.toDataURL("image/jpeg");
  return picture;
}

async function startKiosk() {
  const video = $("#kiosk-video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
  } catch (error) { say(`No camera: ${error.message}`, "error"); return; }
  video.hidden = false;
  await video.play();
  $("#kiosk-start").hidden = true;
  $("#kiosk-stop").hidden = false;
  const session = `kiosk-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let busy = false;
  state.kiosk = setInterval(async () => {  // a frame a second: a modest rate for the server
    if (busy || !video.videoWidth) return;
    busy = true;
    try {
      const { canvas, blob } = await frame(video);
      await checkIn(blob, $("#kiosk-source").value.trim() || "kiosk", canvas, session);
    } catch (error) { say(error.message, "error"); }
    busy = false;
  }, 1000);
}

function stopKiosk() {
  if (state.kiosk) clearInterval(state.kiosk);
  state.kiosk = null;
  const video = $("#kiosk-video");
  if (video.srcObject) video.srcObject.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  video.hidden = true;
  $("#kiosk-start").hidden = false;
  $("#kiosk-stop").hidden = true;
}

async function checkInFile(event) {
  const file = event.target.files[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  try {
    const events = await checkIn(file, $("#kiosk-source").value.trim() || "kiosk", canvas);
    if (events.length) say(`${events.length} event(s).`);
    else say(await whyNobody(file), "error");
  } catch (error) { say(error.message, "error"); }
  event.target.value = "";
}

async function whyNobody(file) {
  // No event: was there no face at all, or faces of people not enrolled? The check-in key may identify.
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  const faces = (await api("/v1/identify", { method: "POST", form })).faces.length;
  return faces ? `${faces === 1 ? "One face" : `${faces} faces`}, nobody enrolled among them.` : "No face found in the photo.";
}

// --- the live feed: server-sent events, read with fetch so the key goes in a header -----------

async function startFeed() {
  stopFeed();
  const controller = new AbortController();
  state.feed = controller;
  const status = $("#feed-status");
  status.textContent = "Connecting…";
  // Today's check-ins first (the latest on top), then the stream from the last of them: none missed, none twice.
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const day = await api(`/v1/attendance?${new URLSearchParams({ start: start.toISOString(), end: new Date(Date.now() + 60000).toISOString() })}`);
  if (state.feed !== controller) return;
  const recent = [...day.events].sort((a, b) => a.event_id - b.event_id);
  $("#feed-events").replaceChildren();
  recent.slice(-10).forEach(showFeed);
  const since = recent.length ? `?since=${recent[recent.length - 1].event_id}` : "";
  const response = await fetch(`/v1/events/stream${since}`, {
    headers: { "X-API-Key": sessionStorage.getItem(KEY) || "" }, signal: controller.signal, cache: "no-store",
  });
  if (!response.ok) { status.textContent = "Not connected."; say(`Live feed: ${response.status}`, "error"); return; }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  status.textContent = `Connected: waiting for check-ins${recent.length ? ` (today's last ${Math.min(10, recent.length)} below)` : " (none yet today)"}.`;
  $("#feed").dataset.ready = "true";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
        if (data) showFeed(JSON.parse(data));
      }
    }
  } catch (error) { if (error.name !== "AbortError") say(`Live feed: ${error.message}`, "error"); }
  if (state.feed === controller) status.textContent = "Disconnected: open the page again to reconnect.";
}

function showFeed(event) {
  $("#feed-events").prepend(element("li", { "data-name": event.name },
    img(`/v1/events/${event.event_id}/snapshot`, event.name),
    element("span", { class: "who" }, event.name),
    element("span", { class: "when" }, `${event.source} · ${when(event.first_seen)}`)));
}

function stopFeed() {
  if (state.feed) state.feed.abort();
  state.feed = null;
  $("#feed").dataset.ready = "false";
  $("#feed-status").textContent = "";
}

// --- attendance ----------------------------------------------------------------------------------

function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

function range() {
  const start = new Date(`${$("#report-from").value}T00:00:00`);
  const end = new Date(`${$("#report-to").value}T00:00:00`);
  end.setDate(end.getDate() + 1);
  const params = new URLSearchParams({
    start: start.toISOString(), end: end.toISOString(), tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  });
  if ($("#report-group").value) params.set("group", $("#report-group").value);
  return params;
}

async function loadAttendance() {
  if (!$("#report-from").value) { $("#report-from").value = today(); $("#report-to").value = today(); }
  const groups = (await api("/v1/groups")).groups;
  const select = $("#report-group");
  const chosen = select.value;
  select.replaceChildren(element("option", { value: "" }, "everyone"),
    ...Object.keys(groups).map((g) => element("option", { value: g }, `${g} (${groups[g].length})`)));
  select.value = chosen;
  await showReport();
  await showUnknowns();
  await showSpoofs();
}

async function showReport() {
  const report = await api(`/v1/attendance?${range()}`);
  state.report = report;
  const sources = [...new Set(report.present.map((row) => row.source))].sort();
  const sourceSelect = $("#report-source");
  const chosen = sourceSelect.value;
  sourceSelect.replaceChildren(element("option", { value: "" }, "every source"), ...sources.map((s) => element("option", { value: s }, s)));
  sourceSelect.value = sources.includes(chosen) ? chosen : "";
  renderReport();
}

function renderReport() {
  const report = state.report;
  const source = $("#report-source").value;
  const rows = source ? report.present.filter((row) => row.source === source) : perPerson(report.present);
  const came = new Set(rows.map((row) => row.name));
  const absent = source ? [...new Set([...report.absent, ...report.present.map((r) => r.name)])].filter((n) => !came.has(n)).sort() : report.absent;
  const body = $("#report-table tbody");
  body.replaceChildren(
    ...rows.map((row) => element("tr", { "data-name": row.name },
      element("td", {}, row.name), element("td", { class: "present" }, "present"), element("td", {}, row.source),
      element("td", {}, when(row.first_seen)), element("td", {}, when(row.last_seen)), element("td", {}, String(row.sightings)))),
    ...absent.map((name) => element("tr", { "data-name": name },
      element("td", {}, name), element("td", { class: "absent" }, "absent"), element("td"), element("td"), element("td"), element("td", {}, "0"))));
  $("#report-count").textContent = `Present: ${rows.length} · absent: ${absent.length}`;
}

function perPerson(present) {
  // One row per person over every source: sources listed, first and last seen anywhere, sightings summed.
  const people = new Map();
  for (const row of present) {
    const seen = people.get(row.name);
    if (!seen) { people.set(row.name, { ...row, sources: [row.source] }); continue; }
    seen.sources.push(row.source);
    if (row.first_seen < seen.first_seen) seen.first_seen = row.first_seen;
    if (row.last_seen > seen.last_seen) seen.last_seen = row.last_seen;
    seen.sightings += row.sightings;
  }
  return [...people.values()].map((row) => ({ ...row, source: [...new Set(row.sources)].sort().join(", ") }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function downloadCsv() {
  try {
    const response = await api(`/v1/attendance.csv?${range()}`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = element("a", { href: url, download: `attendance-${$("#report-from").value}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) { say(error.message, "error"); }
}

async function showUnknowns() {
  const sightings = await api("/v1/unknowns?clusters=true");
  const byCluster = new Map();
  for (const s of sightings) byCluster.set(s.cluster, [...(byCluster.get(s.cluster) || []), s]);
  const list = $("#unknowns");
  list.replaceChildren();
  for (const [number, members] of byCluster) {
    const input = element("input", { placeholder: "This is ...", "aria-label": `unknown ${number}: who is it?` });
    const pictures = element("div", { class: "crops" }, ...members.slice(0, 6).map((s) => img(`/v1/unknowns/${s.id}/snapshot`, `sighting ${s.id}`)));
    const item = element("li", { "data-cluster": String(number) },
      element("strong", {}, `unknown ${number}`),
      element("span", { class: "hint" }, `${members.length} sightings · ${[...new Set(members.map((m) => m.source))].join(", ")} · ${when(members[0].first_seen)}`),
      pictures);
    if (allowed("enrol")) {
      item.append(element("div", { class: "actions" }, input, element("button", {
        type: "button",
        onclick: async () => {
          if (!input.value.trim()) return;
          try {
            const done = await api("/v1/unknowns/assign", { method: "POST", json: { name: input.value.trim(), sightings: members.map((m) => m.id) } });
            say(`${done.sightings.length} sightings enrolled as ${done.name}.`);
            await showUnknowns();
          } catch (error) { say(error.message, "error"); }
        },
      }, "Assign")));
    }
    list.append(item);
  }
  if (!sightings.length) list.append(element("li", { class: "hint" }, "None kept (attend --unknowns keeps them)."));
}

async function showSpoofs() {
  const params = range();
  const spoofs = await api(`/v1/spoofs?start=${encodeURIComponent(params.get("start"))}&end=${encodeURIComponent(params.get("end"))}`);
  $("#spoofs").replaceChildren(...spoofs.map((s) => element("li", {},
    img(`/v1/spoofs/${s.spoof_id}/snapshot`, "spoof attempt"),
    element("span", { class: "who" }, s.claimed ? `as ${s.claimed}` : "as nobody enrolled"),
    element("span", { class: "when" }, `${s.source} · ${when(s.first_seen)} · liveness ${s.liveness_score.toFixed(2)}`))));
  if (!spoofs.length) $("#spoofs").append(element("li", { class: "hint" }, "None in this range."));
}

// --- settings ------------------------------------------------------------------------------------

async function loadSettings() {
  const settings = await api("/v1/settings");
  $("#set-dedupe").value = settings.dedupe_seconds / 3600;
  $("#set-retention").value = settings.retention_days ?? 0;
  $("#set-threshold").value = settings.threshold ?? "";
  $("#set-liveness").checked = settings.liveness;
  $("#webhook-secret").hidden = true;
  await loadWebhooks();
  const audit = await api("/v1/audit?limit=100");
  $("#audit-table tbody").replaceChildren(...audit.map((entry) => element("tr", {},
    element("td", {}, when(entry.at)), element("td", {}, entry.key), element("td", {}, entry.action),
    element("td", {}, entry.target), element("td", {}, JSON.stringify(entry.details)))));
}

// --- webhooks (docs/events.md) -------------------------------------------------------------------

function webhookState(hook) {
  if (!hook.enabled) return `disabled (failing since ${when(hook.failing_since)})`;
  if (hook.failing_since) return `retrying (failing since ${when(hook.failing_since)}, next ${when(hook.next_attempt)})`;
  return "delivering";
}

async function loadWebhooks() {
  const hooks = await api("/v1/webhooks");
  $("#webhook-table tbody").replaceChildren(...hooks.map((hook) => element("tr", { "data-id": String(hook.id) },
    element("td", {}, hook.url), element("td", {}, hook.events.join(", ") || "all"),
    element("td", { class: "state" }, webhookState(hook)), element("td", {}, String(hook.pending ?? "")),
    element("td", { class: "error" }, hook.last_error || ""),
    element("td", {},
      element("button", { type: "button", class: "quiet retry", onclick: () => webhookAction(hook, "retry") }, "Retry now"),
      element("button", { type: "button", class: "quiet remove", onclick: () => webhookAction(hook, "remove") }, "Remove")))));
}

async function webhookAction(hook, action) {
  try {
    if (action === "retry") await api(`/v1/webhooks/${hook.id}/retry`, { method: "POST" });
    else await api(`/v1/webhooks/${hook.id}`, { method: "DELETE" });
    say(action === "retry" ? `Retrying ${hook.url} now.` : `Removed the webhook to ${hook.url}.`);
    await loadWebhooks();
  } catch (error) { say(error.message, "error"); }
}

async function addWebhook(event) {
  event.preventDefault();
  const events = $("#webhook-events").value.split(",").map((t) => t.trim()).filter(Boolean);
  const group = $("#webhook-group").value.trim() || null;
  try {
    const made = await api("/v1/webhooks", { method: "POST", json: { url: $("#webhook-url").value.trim(), events, group } });
    const secret = $("#webhook-secret");
    secret.textContent = `Signing secret of ${made.url} (copy it now: it is not shown again): ${made.secret}`;
    secret.hidden = false;
    say("Webhook added.");
    $("#webhook-form").reset();
    await loadWebhooks();
  } catch (error) { say(error.message, "error"); }
}

async function saveSettings(event) {
  event.preventDefault();
  const threshold = $("#set-threshold").value;
  const change = {
    dedupe_seconds: Number($("#set-dedupe").value) * 3600,
    retention_days: Number($("#set-retention").value || 0),
    liveness: $("#set-liveness").checked,
  };
  if (threshold === "") change.clear_threshold = true; else change.threshold = Number(threshold);
  try {
    await api("/v1/settings", { method: "PATCH", json: change });
    say("Settings saved.");
    await loadSettings();
  } catch (error) { say(error.message, "error"); }
}

// --- wiring ----------------------------------------------------------------------------------------

function wire() {
  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("#key").value.trim();
    $("#key").value = "";
    if (await signIn(key)) route();
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#search").addEventListener("input", filterPeople);
  $("#enrol-form").addEventListener("submit", enrol);
  $("#enrol-files").addEventListener("change", (event) => addPending(event.target.files));
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); addPending(event.dataTransfer.files); });
  $("#camera-start").addEventListener("click", startEnrolCamera);
  $("#camera-shot").addEventListener("click", async () => {
    const { blob } = await frame($("#enrol-video"));
    addPending([new File([blob], `webcam-${Date.now()}.jpg`, { type: "image/jpeg" })]);
  });
  $("#camera-clip").addEventListener("click", enrolClip);
  $("#kiosk-start").addEventListener("click", startKiosk);
  $("#kiosk-stop").addEventListener("click", stopKiosk);
  $("#kiosk-file").addEventListener("change", checkInFile);
  $("#report-form").addEventListener("submit", (event) => { event.preventDefault(); loadAttendance().catch((e) => say(e.message, "error")); });
  $("#report-source").addEventListener("change", renderReport);
  $("#report-csv").addEventListener("click", downloadCsv);
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#webhook-form").addEventListener("submit", addWebhook);
  window.addEventListener("hashchange", route);
}

wire();
const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved).then(route); else show("sign-in");
