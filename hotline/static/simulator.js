// The browser phone: sends the caller's actions to /simulator and plays back what the hotline says.
// The server signs and posts the webhooks; this page never holds a Twilio secret.
"use strict";

// Speech: Thai synthesis when the browser has a Thai voice, text only otherwise. -----------------
const HotlineSpeech = (() => {
  function thaiVoice() {
    if (!("speechSynthesis" in window)) return null;
    return window.speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith("th")) || null;
  }
  function speak(text, note) {
    const voice = thaiVoice();
    if (!voice) {
      if (note) note.hidden = false;
      return;
    }
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "th-TH";
    utterance.voice = voice;
    window.speechSynthesis.speak(utterance);
  }
  function silence() {
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
  }
  return { speak, silence };
})();
window.HotlineSpeech = HotlineSpeech;

// The caller's words as WAV (what Twilio serves): MediaRecorder, decoded and resampled to 8 kHz. --
const WAV_RATE = 8000;

function encodeWav(samples) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, WAV_RATE, true); view.setUint32(28, WAV_RATE * 2, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return new Blob([buffer], { type: "audio/wav" });
}

async function toWav(blob) {
  const decoded = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
  const frames = Math.max(1, Math.ceil(decoded.duration * WAV_RATE));
  const offline = new OfflineAudioContext(1, frames, WAV_RATE); // mixes down to mono
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  return encodeWav((await offline.startRendering()).getChannelData(0));
}

class Microphone {
  constructor(maxSeconds) { this.maxSeconds = maxSeconds; this.recorder = null; this.chunks = []; }
  async start() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.chunks = [];
    this.recorder = new MediaRecorder(stream);
    this.recorder.ondataavailable = (event) => this.chunks.push(event.data);
    this.recorder.start();
    this.timer = setTimeout(() => this.recorder && this.recorder.stop(), this.maxSeconds * 1000);
  }
  stop() {
    clearTimeout(this.timer);
    return new Promise((resolve, reject) => {
      const recorder = this.recorder;
      recorder.onstop = () => {
        recorder.stream.getTracks().forEach((track) => track.stop());
        toWav(new Blob(this.chunks, { type: recorder.mimeType })).then(resolve, reject);
      };
      if (recorder.state === "inactive") recorder.onstop(); else recorder.stop();
      this.recorder = null;
    });
  }
}

// The phone --------------------------------------------------------------------------------------
(() => {
  const phone = document.getElementById("phone");
  if (!phone) return;
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const display = document.getElementById("display");
  const state = document.getElementById("state");
  const heard = document.getElementById("heard");
  const note = document.getElementById("tts-note");
  const buttons = {
    call: document.getElementById("call"), noInput: document.getElementById("no-input"),
    stop: document.getElementById("stop-recording"), hangup: document.getElementById("hangup"),
  };
  const message = (name) => document.querySelector(`#messages [data-msg=${name}]`).textContent;
  const MAX_RECORD_S = 120; // keeps the upload under the app's 2 MiB request limit
  const QUEUE_POLL_MS = 1000; // how often a queued caller asks whether an agent took the call
  const IN_QUEUE = ["queue", "agent"];
  let keyed = "";
  let gather = { num_digits: null, finish_on_key: "#" };
  let microphone = null;
  let requests = Promise.resolve(); // one request at a time: a poll never races a hang-up
  let pollTimer = null;

  function show(waiting, text) {
    phone.dataset.waiting = waiting;
    state.textContent = text;
    const inCall = !["idle", "ended"].includes(waiting);
    buttons.call.hidden = inCall;
    buttons.hangup.hidden = !inCall;
    buttons.noInput.hidden = waiting !== "keys";
    buttons.stop.hidden = waiting !== "record";
  }

  function send(url, body) {
    requests = requests.then(() => transmit(url, body));
    return requests;
  }

  // Sent only if the call still waits in the queue when its turn comes.
  function pollQueue() {
    requests = requests.then(() => (IN_QUEUE.includes(phone.dataset.waiting) ? transmit(phone.dataset.urlQueue, new FormData()) : null));
  }

  async function transmit(url, body) {
    phone.dataset.busy = "true";
    try {
      const response = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf } });
      const answer = await response.json().catch(() => ({ error: "failed" }));
      if (!response.ok) {
        show(answer.error === "wrong_number" ? "idle" : "ended", message(answer.error === "wrong_number" ? "wrong_number" : "failed"));
        return;
      }
      await hear(answer);
    } catch (error) {
      show("ended", message("failed"));
    } finally {
      phone.dataset.busy = "false";
    }
  }

  function say(line) {
    const item = document.createElement("li");
    item.textContent = line;
    heard.appendChild(item);
    HotlineSpeech.speak(line, note);
  }

  async function hear(answer) {
    const before = phone.dataset.waiting;
    const leftQueue = IN_QUEUE.includes(before) && !IN_QUEUE.includes(answer.waiting);
    // Said once, even when the agent took and ended the call between two polls.
    if (before !== "agent" && (answer.waiting === "agent" || (leftQueue && answer.answered))) say(message("agent"));
    if (leftQueue && answer.answered) say(message("agent_left"));
    answer.heard.forEach(say);
    keyed = "";
    display.textContent = "";
    gather = { num_digits: answer.num_digits, finish_on_key: answer.finish_on_key };
    if (answer.waiting === "record") {
      show("record", message("recording"));
      microphone = new Microphone(MAX_RECORD_S);
      await microphone.start().catch(() => { microphone = null; state.textContent = message("no_microphone"); });
      phone.dataset.recording = microphone ? "on" : "silent";
      phone.dataset.recordingSince = String(Date.now());
      return;
    }
    const texts = { keys: "listening", queue: "queue", agent: "agent", ended: "ended" };
    show(answer.waiting, message(texts[answer.waiting]));
    if (IN_QUEUE.includes(answer.waiting)) {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(pollQueue, QUEUE_POLL_MS);
    }
  }

  function form(fields) {
    const data = new FormData();
    Object.entries(fields).forEach(([k, v]) => data.append(k, v));
    return data;
  }

  async function finishRecording() {
    buttons.stop.hidden = true;
    const wav = microphone ? await microphone.stop() : encodeWav(new Float32Array(WAV_RATE));
    microphone = null;
    delete phone.dataset.recording;
    delete phone.dataset.recordingSince;
    const data = new FormData();
    data.append("audio", wav, "caller.wav");
    await send(phone.dataset.urlRecord, data);
  }

  function press(key) {
    const waiting = phone.dataset.waiting;
    if (phone.dataset.busy === "true") return;
    if (waiting === "record" && key === "#") { finishRecording(); return; }
    if (waiting === "idle" || waiting === "ended") {
      if (waiting === "ended") { heard.textContent = ""; show("idle", ""); }
      keyed += key;
      display.textContent = keyed;
      return;
    }
    if (waiting !== "keys") return;
    HotlineSpeech.silence(); // the caller barged in
    if (key === gather.finish_on_key) { send(phone.dataset.urlKeys, form({ digits: keyed + key })); return; }
    keyed += key;
    display.textContent = keyed;
    if (gather.num_digits && keyed.length >= gather.num_digits) send(phone.dataset.urlKeys, form({ digits: keyed }));
  }

  phone.querySelectorAll(".key").forEach((button) => button.addEventListener("click", () => press(button.dataset.key)));
  buttons.call.addEventListener("click", () => {
    heard.textContent = "";
    send(phone.dataset.urlCall, form({ number: keyed }));
  });
  buttons.noInput.addEventListener("click", () => send(phone.dataset.urlKeys, form({ digits: "" })));
  buttons.stop.addEventListener("click", finishRecording);
  buttons.hangup.addEventListener("click", async () => {
    HotlineSpeech.silence();
    clearTimeout(pollTimer);
    if (microphone) { await microphone.stop().catch(() => null); microphone = null; }
    // After a poll already in flight, and only if that poll did not end the call.
    requests = requests.then(() => (["idle", "ended"].includes(phone.dataset.waiting) ? null : transmit(phone.dataset.urlHangup, new FormData())));
  });
  // Leaving the page hangs up, as a caller who puts the phone down: no ghost stays in the queue.
  window.addEventListener("pagehide", () => {
    if (["idle", "ended"].includes(phone.dataset.waiting)) return;
    clearTimeout(pollTimer);
    navigator.sendBeacon(phone.dataset.urlHangup, form({ csrf_token: csrf }));
  });
})();
