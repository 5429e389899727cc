// A practice call: each click, the scenario's caller says the next line (Thai speech, or text only).
"use strict";
(() => {
  const button = document.getElementById("next-line");
  if (!button) return;
  const note = document.getElementById("tts-note");
  const lines = [...document.querySelectorAll("#story li")];
  button.addEventListener("click", () => {
    const line = lines.find((item) => item.hidden);
    if (!line) return;
    line.hidden = false;
    window.HotlineSpeech.speak(line.textContent, note);
    button.hidden = lines.every((item) => !item.hidden);
  });
})();
