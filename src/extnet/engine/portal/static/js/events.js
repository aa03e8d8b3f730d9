// New events as they happen: the engine's event list polled with ?from=<the last index seen>.

import { list } from "./api.js";

const POLL_MS = 3000;

export class EventFeed {
  /** ``onNew(count, events)``: called with the events that arrived since the last poll (newest first). */
  constructor(onNew) {
    this.onNew = onNew;
    this.last = null;
    this.timer = null;
    this.stopped = false;
  }

  async start() {
    try {
      const [newest] = await list("events", { max: 1 });
      this.last = newest ? newest.index : 0;
    } catch {
      this.last = 0;
    }
    this.schedule();
  }

  schedule() {
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async poll() {
    try {
      const events = await list("events", { from: this.last, max: 500 });
      if (events.length) {
        this.last = Math.max(this.last, ...events.map((event) => Number(event.index)));
        this.onNew(events.length, events);
      }
    } catch {
      // the next poll tries again; a lost session ends the feed through stop()
    }
    this.schedule();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
