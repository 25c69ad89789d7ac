// LoquiLex browser client: microphone → /ws/{id} (AUDIO_CHUNK) → captions on the page.
// Plain ES module, no build step. Protocol: see docs/api.md.

const $ = (id) => document.getElementById(id);
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];
const MAX_BUFFERED_CHUNKS = 600; // 60 s of audio kept while the connection is down
const TOKEN_KEY = "loquilex-token"; // sessionStorage: gone when the tab closes
// A subprotocol must be an RFC 7230 token; other tokens go in an AUTHENTICATE message.
const SUBPROTOCOL_SAFE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const state = {
  sessionId: null,
  streamId: null,
  senderKey: null,         // only the speaker's tab has it: it may send audio and control
  ws: null,
  wantSocket: false,      // false once we ended the session or detached on purpose
  lastEventId: 0,
  finals: new Set(),       // segment ids already shown: a final is never shown twice
  sequence: 0,
  unsent: [],              // [sequence, base64] waiting for the socket
  sentSeconds: 0,
  capture: null,           // {stream, context, node}
  role: "idle",            // idle | speaker | viewer
  paused: false,
  attempt: 0,
  translations: new Map(), // segment id → latest translation text (final ones win)
  mtModel: null,           // the installed translation model the picker offers, if any
  speakerNames: new Map(), // speaker id → the name given in this page (kept per session)
  lastSpeaker: null,       // speaker of the last final shown: a change starts a turn
};
const SPEAKER_COLOURS = 8;

// ---- messages and status ---------------------------------------------------------------
function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

function setConn(text, kind) {
  const pill = $("conn");
  pill.textContent = text;
  pill.dataset.state = kind || "";
}

function explainMediaError(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone permission was denied. Allow microphone access for this page in your browser's site settings, then press Start again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Plug one in (or pick one in your system sound settings), then press Start again.";
    case "NotReadableError":
      return "The microphone is busy in another program. Close it there, then press Start again.";
    default:
      return `Could not start the microphone: ${err && err.message ? err.message : err}`;
  }
}

function serverGone() {
  showMessage(`Can't reach the LoquiLex server at ${location.host}. Is \`loquilex serve\` still running? Captions will continue when it is back.`);
}

// ---- rendering ---------------------------------------------------------------------------
function fmtTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---- speakers ------------------------------------------------------------------------------
function speakerName(id) {
  const m = /^spk-(\d+)$/.exec(id);
  return state.speakerNames.get(id) || (m ? `Speaker ${Number(m[1]) + 1}` : id);
}

function speakerClass(id) {
  const m = /^spk-(\d+)$/.exec(id);
  return `speaker-${m ? Number(m[1]) % SPEAKER_COLOURS : 0}`;
}

function speakerLabel(id) {
  const label = document.createElement("button");
  label.type = "button";
  label.className = "speaker";
  label.dataset.speaker = id;
  label.textContent = speakerName(id);
  label.title = "Rename this speaker";
  label.addEventListener("click", () => renameSpeaker(label));
  return label;
}

function renameSpeaker(label) {
  const id = label.dataset.speaker;
  const input = Object.assign(document.createElement("input"), {
    type: "text", value: speakerName(id), maxLength: 60, className: "speaker-edit",
  });
  input.setAttribute("aria-label", `Name for ${speakerName(id)}`);
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    input.replaceWith(label);
    if (save) setSpeakerName(id, input.value.trim());
    label.focus();
  };
  input.addEventListener("keydown", (e) => {
    e.stopPropagation(); // typing a name is not a shortcut
    if (e.key !== "Enter" && e.key !== "Escape") return;
    // Else the key would go on to the label, focused again, and press it.
    e.preventDefault();
    finish(e.key === "Enter");
  });
  input.addEventListener("blur", () => finish(true));
  label.replaceWith(input);
  input.select();
}

function speakersKey() {
  return `loquilex-speakers-${state.sessionId}`;
}

function setSpeakerName(id, name) {
  if (name) state.speakerNames.set(id, name);
  else state.speakerNames.delete(id);
  for (const el of document.querySelectorAll(`.speaker[data-speaker="${CSS.escape(id)}"]`)) {
    el.textContent = speakerName(id);
  }
  if (state.sessionId) {
    localStorage.setItem(speakersKey(), JSON.stringify(Object.fromEntries(state.speakerNames)));
  }
  // The sender's page names them on the server too, so the downloads carry the names.
  if (state.senderKey && state.sessionId) {
    api("PUT", `/sessions/${state.sessionId}/speakers`, { names: { [id]: name } })
      .catch((err) => showMessage(`Could not save the speaker's name: ${err.message}`));
  }
}

async function loadSpeakerNames() {
  state.speakerNames.clear();
  try {
    const saved = await api("GET", `/sessions/${state.sessionId}/speakers`);
    for (const [id, name] of Object.entries(saved.names || {})) state.speakerNames.set(id, name);
  } catch (err) {
    // A session this server no longer knows: the names kept in this browser still apply.
  }
  try {
    const local = JSON.parse(localStorage.getItem(speakersKey()) || "{}");
    for (const [id, name] of Object.entries(local)) state.speakerNames.set(id, name);
  } catch (err) {
    localStorage.removeItem(speakersKey());
  }
  for (const el of document.querySelectorAll(".speaker")) el.textContent = speakerName(el.dataset.speaker);
}

function addFinal(segmentId, segment) {
  if (!segment.text || state.finals.has(segmentId)) return;
  state.finals.add(segmentId);
  const li = document.createElement("li");
  li.dataset.segment = segmentId;
  const time = document.createElement("time");
  time.textContent = fmtTime(segment.start);
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = segment.text;
  li.append(time);
  const speaker = segment.speaker_id;
  let said = segment.text;
  if (speaker) {
    li.dataset.speaker = speaker;
    li.classList.add(speakerClass(speaker));
    if (speaker !== state.lastSpeaker) {
      li.classList.add("turn");
      li.append(speakerLabel(speaker));
      said = `${speakerName(speaker)}: ${segment.text}`;
    }
    state.lastSpeaker = speaker;
  }
  li.append(text);
  const translated = state.translations.get(segmentId);
  if (translated) li.append(translationLine(translated.text, translated.lang));
  $("finals").append(li);
  const live = document.createElement("p");
  live.textContent = said;
  $("live-region").append(live);
  while ($("live-region").childElementCount > 5) $("live-region").firstElementChild.remove();
  scrollToEnd();
}

function setPartial(segmentId, segment) {
  const p = $("partial");
  if (!segment || state.finals.has(segmentId)) {
    p.querySelector(".stable").textContent = "";
    p.querySelector(".unstable").textContent = "";
    const old = p.querySelector(".translation");
    if (old) old.remove();
    delete p.dataset.segment;
    setPartialSpeaker(p, null);
    return;
  }
  if (p.dataset.segment !== segmentId) {
    const old = p.querySelector(".translation");
    if (old) old.remove();
  }
  p.dataset.segment = segmentId;
  setPartialSpeaker(p, segment.speaker_id);
  const stable = segment.stable_text || "";
  p.querySelector(".stable").textContent = stable;
  p.querySelector(".unstable").textContent =
    (stable && segment.unstable_text ? " " : "") + (segment.unstable_text || "");
  scrollToEnd();
}

// The sentence being spoken takes its tentative speaker's colour (the final decides).
function setPartialSpeaker(p, speaker) {
  for (const cls of [...p.classList]) if (cls.startsWith("speaker-")) p.classList.remove(cls);
  if (speaker) {
    p.dataset.speaker = speaker;
    p.classList.add(speakerClass(speaker));
    p.title = `Probably ${speakerName(speaker)}`;
  } else {
    delete p.dataset.speaker;
    p.removeAttribute("title");
  }
}

function translationLine(text, lang) {
  const line = document.createElement("span");
  line.className = "translation";
  line.lang = lang === "zh" ? "zh-Hans" : lang;
  line.textContent = text;
  return line;
}

function setTranslation(p) {
  // A final translation is the last word on its segment; partial ones may be replaced.
  const known = state.translations.get(p.source_segment_id);
  if (known && known.final) return;
  state.translations.set(p.source_segment_id, p);
  while (state.translations.size > 500) state.translations.delete(state.translations.keys().next().value);
  const li = document.querySelector(`#finals li[data-segment="${CSS.escape(p.source_segment_id)}"]`);
  const host = li || ($("partial").dataset.segment === p.source_segment_id ? $("partial") : null);
  if (!host) return;
  const line = host.querySelector(".translation");
  if (line) line.textContent = p.text;
  else host.append(translationLine(p.text, p.lang));
  if (li && p.final) {
    const live = document.createElement("p");
    live.lang = line ? line.lang : (p.lang === "zh" ? "zh-Hans" : p.lang);
    live.textContent = p.text;
    $("live-region").append(live);
  }
  scrollToEnd();
}

function markGap(from, to) {
  const li = document.createElement("li");
  li.className = "gap";
  li.textContent = `Connection gap: events ${from}–${to} were lost; the transcript below was restored from the server.`;
  $("finals").append(li);
}

function scrollToEnd() {
  const box = $("captions");
  box.scrollTop = box.scrollHeight;
}

function updateLag(audioEnd) {
  if (state.role !== "speaker" || audioEnd == null) return;
  const lag = Math.max(0, state.sentSeconds - audioEnd);
  $("lag").textContent = `lag ${lag.toFixed(1)} s`;
}

// ---- events from the server --------------------------------------------------------------
function onEvent(event) {
  if (event.event_id <= state.lastEventId) return; // replayed twice: ignore
  state.lastEventId = event.event_id;
  const p = event.payload;
  switch (event.type) {
    case "SESSION_STARTED":
      $("model-info").textContent = `model ${p.config.model}` +
        (p.config.translate ? ` · translating into ${p.config.target_lang}` : "");
      showBilingual(p.config.translate);
      break;
    case "STATUS":
      if (p.stage === "paused") setConn("paused", "paused");
      else if (p.stage === "operational") setConn("live", "live");
      else if (p.stage === "error") { setConn("error", "error"); showMessage(p.message); }
      break;
    case "PARTIAL":
      setPartial(event.segment_id, p.segment);
      updateLag(event.ts_audio_end);
      break;
    case "FINALIZED":
      addFinal(event.segment_id, p.segment);
      if ($("partial").dataset.segment === event.segment_id) setPartial(null, null);
      updateLag(event.ts_audio_end);
      break;
    case "SNAPSHOT":
      for (const f of p.recent_finals) addFinal(f.segment_id, f);
      setPartial(p.live_partial && p.live_partial.segment_id, p.live_partial);
      for (const t of p.translations || []) setTranslation(t);
      break;
    case "TRANSLATION":
      setTranslation(p);
      break;
    case "ERROR":
      if (p.code === "RESUME_GAP") markGap(p.missing_from, p.missing_to);
      else if (p.code === "BUFFER_OVERFLOW")
        showMessage(`The connection is too slow: ${p.dropped_count} live caption update(s) were skipped. Final captions are complete.`);
      else showMessage(`${p.code}: ${p.message}`);
      break;
    case "SESSION_ENDED":
      state.wantSocket = false;
      setConn("ended", "");
      setPartial(null, null);
      stopCapture();
      setButtons();
      break;
  }
}

// ---- the socket, with resume ---------------------------------------------------------------
function wsUrl() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const key = state.senderKey ? `?sender_key=${encodeURIComponent(state.senderKey)}` : "";
  return `${proto}//${location.host}/ws/${state.sessionId}${key}`;
}

// ---- the bearer token, when the server asks for one -----------------------------------------
function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

let tokenPrompt = null; // one prompt at a time, however many requests met a 401

function askToken(message) {
  // Resolves once the user has entered a token in the page's token form.
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = promptToken(message).finally(() => { tokenPrompt = null; });
  return tokenPrompt;
}

function promptToken(message) {
  const form = $("token-form");
  $("token-message").textContent = message;
  form.hidden = false;
  $("token").focus();
  return new Promise((resolve) => {
    form.onsubmit = (e) => {
      e.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      form.hidden = true;
      resolve(value);
    };
  });
}

function connect() {
  state.wantSocket = true;
  const tok = token();
  const protocols = tok && SUBPROTOCOL_SAFE.test(tok) ? [`bearer.${tok}`] : [];
  const ws = new WebSocket(wsUrl(), protocols);
  state.ws = ws;
  ws.onopen = () => {
    if (tok && !protocols.length) ws.send(JSON.stringify({ type: "AUTHENTICATE", token: tok }));
    if (state.lastEventId > 0) {
      ws.send(JSON.stringify({ type: "RESUME_SESSION", stream_id: state.streamId,
                               last_event_id: state.lastEventId,
                               ...(state.senderKey ? { sender_key: state.senderKey } : {}) }));
    }
    state.attempt = 0;
    showMessage("");
    setConn(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
    flushAudio();
  };
  ws.onmessage = (msg) => onEvent(JSON.parse(msg.data));
  ws.onclose = (closed) => {
    if (state.ws !== ws) return;
    state.ws = null;
    // Unknown session, refused token or origin: trying again would not help.
    if ([1008, 4404].includes(closed.code)) {
      state.wantSocket = false;
      setConn("disconnected", "error");
      setButtons();
    }
    if (!state.wantSocket) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(state.attempt, RECONNECT_DELAYS_MS.length - 1)];
    state.attempt += 1;
    setConn("reconnecting…", "reconnecting");
    if (state.attempt > 3) serverGone();
    setTimeout(() => { if (state.wantSocket && !state.ws) connect(); }, delay);
  };
}

function flushAudio() {
  const ws = state.ws;
  while (ws && ws.readyState === WebSocket.OPEN && state.unsent.length) {
    const [sequence, data] = state.unsent.shift();
    ws.send(JSON.stringify({ type: "AUDIO_CHUNK", data, sequence }));
  }
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function onAudio(buffer) {
  if (state.paused) return;
  state.sentSeconds += buffer.byteLength / 2 / 16000;
  state.unsent.push([state.sequence++, toBase64(buffer)]);
  if (state.unsent.length > MAX_BUFFERED_CHUNKS) state.unsent.shift();
  flushAudio();
}

// ---- microphone ------------------------------------------------------------------------------
async function startCapture() {
  const raw = $("raw-audio").checked;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: raw ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false,
                   channelCount: 1 }
               : { channelCount: 1 },
  });
  // Created only now: an AudioContext made before getUserMedia succeeds starts suspended.
  const context = new AudioContext();
  await context.audioWorklet.addModule("/ui/worklet.js");
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "pcm-downsampler");
  node.port.onmessage = (msg) => onAudio(msg.data);
  source.connect(node);
  if (context.state === "suspended") await context.resume();
  state.capture = { stream, context, node };
}

function stopCapture() {
  const cap = state.capture;
  state.capture = null;
  if (!cap) return;
  cap.node.port.onmessage = null;
  cap.stream.getTracks().forEach((t) => t.stop());
  cap.context.close();
}

// ---- REST -------------------------------------------------------------------------------------
function headers(extra) {
  const out = { ...extra };
  const tok = token();
  if (tok) out.Authorization = `Bearer ${tok}`;
  if (state.senderKey) out["X-LoquiLex-Sender-Key"] = state.senderKey;
  return out;
}

async function request(method, path, body) {
  for (;;) {
    let response;
    try {
      response = await fetch(path, {
        method, headers: headers(body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      serverGone();
      throw err;
    }
    if (response.status !== 401) return response;
    const retry = token() !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    await askToken(retry
      ? "That token was not accepted. Enter the server's access token."
      : "This server needs an access token (the one set in LX_SERVER__AUTH_TOKEN).");
  }
}

async function download(event) {
  // Links cannot carry the token or the sender key: fetch the file and save it.
  const a = event.currentTarget;
  if (a.getAttribute("aria-disabled") === "true") return;
  event.preventDefault();
  const response = await request("GET", a.dataset.path);
  if (!response.ok) {
    showMessage(`Could not download: ${response.status}`);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const save = Object.assign(document.createElement("a"), { href: url, download: a.download });
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function api(method, path, body) {
  const response = await request(method, path, body);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new Error(detail || `${response.status}`);
  }
  return data;
}

async function loadTranslation() {
  // The picker offers the languages of the installed translation model, if there is one.
  const select = $("translate-lang");
  const hint = $("translate-hint");
  try {
    const models = (await api("GET", "/models/mt")).filter((m) => m.installed);
    const model = models.find((m) => m.recommended) || models[0];
    if (!model) {
      select.disabled = true;
      hint.hidden = false;
      hint.textContent = "no translation model: run `loquilex models install opus-mt-en-zh`";
      return;
    }
    state.mtModel = model.id;
    const langs = await api("GET", `/languages/mt/${encodeURIComponent(model.id)}`);
    for (const l of langs.languages) select.append(new Option(l.name, l.code));
    select.title = `translation model ${model.id}`;
  } catch (err) {
    console.warn("could not list translation models", err);
  }
}

async function loadModels() {
  try {
    const models = await api("GET", "/models/asr");
    const select = $("model");
    select.replaceChildren();
    for (const m of models) {
      const option = new Option(`${m.id}${m.installed ? "" : " (not installed)"}`, m.id);
      option.disabled = !m.installed;
      option.selected = m.default;
      select.append(option);
    }
  } catch (err) {
    console.warn("could not list models", err);
  }
}

// ---- controls ---------------------------------------------------------------------------------
function resetTranscript() {
  state.finals.clear();
  state.lastEventId = 0;
  state.sequence = 0;
  state.unsent = [];
  state.sentSeconds = 0;
  state.paused = false;
  state.translations.clear();
  state.lastSpeaker = null;
  $("finals").replaceChildren();
  $("live-region").replaceChildren();
  setPartial(null, null);
  $("lag").textContent = "";
}

function useSession(sessionId, streamId, senderKey) {
  state.sessionId = sessionId;
  state.streamId = streamId;
  state.senderKey = senderKey || null;
  $("session-info").textContent = `session ${sessionId}`;
  for (const a of document.querySelectorAll(".dl")) {
    const both = a.dataset.bilingual === "true";
    a.dataset.path = `/sessions/${sessionId}/transcript?format=${a.dataset.format}` +
      (both ? "&bilingual=true" : "");
    a.href = a.dataset.path;
    a.setAttribute("download", `captions${both ? ".bilingual" : ""}.${a.dataset.format}`);
    a.setAttribute("aria-disabled", "false");
  }
  loadSpeakerNames();
}

function showBilingual(on) {
  // The bilingual downloads only make sense for a translated session.
  document.querySelector(".bilingual-dl").hidden = !on;
}

function setButtons() {
  const running = state.role !== "idle" && state.wantSocket;
  const controls = running && state.role === "speaker"; // viewers only watch
  $("start").textContent = state.role === "speaker" && running ? "Stop " : "Start ";
  $("start").append(Object.assign(document.createElement("kbd"), { textContent: "S" }));
  $("pause").disabled = !controls;
  $("finalize").disabled = !controls;
  $("pause").firstChild.textContent = state.paused ? "Resume " : "Pause ";
}

async function start() {
  showMessage("");
  resetTranscript();
  try {
    await startCapture();
  } catch (err) {
    showMessage(explainMediaError(err));
    setConn("idle", "");
    return;
  }
  try {
    const lang = $("translate-lang").value;
    const created = await api("POST", "/sessions", {
      source: "push",
      model: $("model").value || null,
      ...(lang ? { translate: true, target_lang: lang, mt_model: state.mtModel } : {}),
    });
    useSession(created.session_id, created.stream_id, created.sender_key);
    showBilingual(Boolean(lang));
    $("model-info").textContent = `model ${$("model").value}` +
      (lang ? ` · translating into ${$("translate-lang").selectedOptions[0].text}` : "");
  } catch (err) {
    stopCapture();
    showMessage(`Could not start a session: ${err.message}`);
    return;
  }
  state.role = "speaker";
  connect();
  setButtons();
}

async function stop() {
  stopCapture();
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN) {
    flushAudio();
    ws.send(JSON.stringify({ type: "END_SESSION" }));
  } else if (state.sessionId) {
    await api("DELETE", `/sessions/${state.sessionId}`).catch(() => {});
  }
  setButtons();
}

async function togglePause() {
  if (!state.sessionId) return;
  const action = state.paused ? "resume" : "pause";
  try {
    await api("POST", `/sessions/${state.sessionId}/${action}`);
    state.paused = !state.paused;
  } catch (err) {
    showMessage(`Could not ${action}: ${err.message}`);
  }
  setButtons();
}

async function finalizeNow() {
  if (!state.sessionId) return;
  await api("POST", `/sessions/${state.sessionId}/finalize`).catch((err) =>
    showMessage(`Could not finalize: ${err.message}`));
}

async function attach(sessionId) {
  showMessage("");
  resetTranscript();
  try {
    const info = await api("GET", `/sessions/${encodeURIComponent(sessionId)}`);
    useSession(info.session_id, info.stream_id);
    showBilingual(info.config.translate);
    $("model-info").textContent = `model ${info.model}`;
  } catch (err) {
    showMessage(`Could not attach: ${err.message}`);
    return;
  }
  state.role = "viewer";
  connect();
  setButtons();
}

function typesText(el) {
  // Shortcuts stay off while the user types; checkboxes and sliders take no letters.
  if (!el || !el.tagName) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !["checkbox", "radio", "range", "button", "submit"].includes(el.type);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typesText(event.target)) return;
  const key = event.key.toLowerCase();
  if (key === "s") { event.preventDefault(); $("start").click(); }
  else if (key === "p" && !$("pause").disabled) { event.preventDefault(); togglePause(); }
  else if (key === "f" && !$("finalize").disabled) { event.preventDefault(); finalizeNow(); }
}

function init() {
  $("start").addEventListener("click", () => {
    if (state.role === "speaker" && state.wantSocket) stop(); else start();
  });
  $("pause").addEventListener("click", togglePause);
  for (const a of document.querySelectorAll(".dl")) a.addEventListener("click", download);
  $("finalize").addEventListener("click", finalizeNow);
  $("attach-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("attach-id").value.trim();
    if (id) attach(id);
  });
  $("size").addEventListener("input", (e) =>
    document.documentElement.style.setProperty("--caption-size", `${e.target.value}px`));
  $("contrast").addEventListener("change", (e) => {
    document.documentElement.dataset.theme = e.target.checked ? "contrast" : "";
  });
  $("show-translation").addEventListener("change", (e) => {
    $("captions").classList.toggle("hide-translation", !e.target.checked);
  });
  document.addEventListener("keydown", onKey);
  const attachId = new URLSearchParams(location.search).get("session");
  if (attachId) attach(attachId);
  loadModels().then(loadTranslation);
  setButtons();
}

// For diagnostics and tests: drop the socket as a network failure would (it reconnects).
window.loquilex = {
  state,
  dropConnection() { if (state.ws) state.ws.close(4000, "simulated drop"); },
};

init();
