// Frame Shift live updates: one EventSource per page, handlers by message type, automatic recovery.
//
// EventSource reconnects by itself after a network error (the server sends `retry: 2000`), but gives
// up for good when an answer is not a stream (a restart behind a proxy answering 502, a login
// redirect). Then we open a new one with backoff. After any gap, pages re-read what they show
// ("resync"), because messages sent while disconnected are gone.
(function () {
  "use strict";
  const FS = (window.FrameShift = window.FrameShift || {});
  const handlers = {};
  const resyncs = [];
  let source = null;
  let timer = null;
  let backoff = 1000;
  let hadGap = false;
  let state = "idle";
  // ms a tab stays hidden before its stream is closed (tests shorten it)
  const HIDDEN_GRACE = window.FRAME_SHIFT_HIDDEN_GRACE || 60000;

  function streamUrl() {
    return document.body.dataset.streamUrl || "/api/stream";
  }

  function setState(next) {
    state = next;
    document.body.dataset.live = next;
    const badge = document.getElementById("live-status");
    if (!badge) return;
    badge.hidden = false;
    badge.dataset.state = next;
    badge.textContent = next === "open" ? "Live" : next === "connecting" ? "Connecting…" : next === "paused" ? "Paused" : "Reconnecting…";
    badge.title = next === "open" ? "Updates arrive as they happen" : "Live updates paused; reconnecting by itself";
  }

  function deliver(type, event) {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    (handlers[type] || []).forEach((fn) => fn(message, type));
    (handlers["*"] || []).forEach((fn) => fn(message, type));
  }

  function listen(type) {
    if (source && type !== "*") source.addEventListener(type, (event) => deliver(type, event));
  }

  function connect() {
    clearTimeout(timer);
    if (source) source.close();
    setState(state === "idle" ? "connecting" : "reconnecting");
    source = new EventSource(streamUrl());
    Object.keys(handlers).forEach(listen);
    source.addEventListener("message", (event) => deliver("job", event));
    source.onopen = function () {
      backoff = 1000;
      setState("open");
      if (hadGap) {
        hadGap = false;
        resyncs.forEach((fn) => fn());
      }
    };
    source.onerror = function () {
      hadGap = true;
      setState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        timer = setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    };
  }

  FS.live = {
    // Call fn(message, type) for each message of this type ("job", "progress", "deleted", "cleared", "*").
    on: function (type, fn) {
      const fresh = !handlers[type];
      (handlers[type] = handlers[type] || []).push(fn);
      if (!source) connect();
      else if (fresh) listen(type);
    },
    // Call fn after the stream came back from a gap, to re-read state that may have been missed.
    onResync: function (fn) { resyncs.push(fn); },
    reconnect: connect,
    get state() { return state; },
  };

  window.addEventListener("online", function () {
    if (source && state !== "open") connect();
  });
  // A browser opens at most six connections per host over HTTP/1.1 and every stream holds one (and a
  // server thread): a tab hidden for a while lets its stream go, and catches up when shown again.
  let hiddenTimer = null;
  document.addEventListener("visibilitychange", function () {
    clearTimeout(hiddenTimer);
    if (document.visibilityState === "hidden") {
      hiddenTimer = setTimeout(function () {
        if (source && document.visibilityState === "hidden") {
          clearTimeout(timer);
          source.close();
          source = null;
          hadGap = true;
          setState("paused");
        }
      }, HIDDEN_GRACE);
    } else if (!source && Object.keys(handlers).length) {
      connect();
    }
  });
  window.addEventListener("pagehide", function () {
    if (source) source.close();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && source) { hadGap = true; connect(); }
  });
})();
