// Long engine work run in the background (an action with ?async=true answers 202 and a job): a notice that stays
// while the job runs, with its elapsed time, and the job's end (its reason when it failed).

import * as api from "./api.js";
import { h } from "./dom.js";

const POLL_MS = 1000;

function elapsed(start) {
  const seconds = Math.round((Date.now() - start) / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** Run ``name`` on ``path`` in the background and show its progress until it ends; throws a Fault if it fails. */
export async function runInBackground(path, name, label) {
  const answer = await api.request("POST", `${path}/${name}`, { body: {}, params: { async: "true" } });
  const area = document.getElementById("notices");
  const text = h("span", {}, `${label}…`);
  const note = h("div", { class: "notice info", role: "status" }, text);
  area?.append(note);
  const start = Date.now();
  try {
    if (!answer.job) return; // done at once
    for (;;) {
      const job = await api.get(`jobs/${answer.job.id}`);
      if (job.status === "finished") return;
      if (job.status !== "started") {
        throw new api.Fault(409, `${label} ${job.status}`, job.comment || "");
      }
      text.textContent = `${label}… ${elapsed(start)}`;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    note.remove();
  }
}
