// Live updates for the queue and the job page. The pages work without this file; with it, the
// queue's rows and the job's state are fetched again when the server says they changed, and the
// log grows as the build writes it. Everything inserted as text, or as HTML the server escaped.
'use strict';

function liveQueue(box) {
  let inFlight = false;
  let again = false;
  const refresh = async () => {
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set('fragment', 'rows');
      const res = await fetch(url, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
      if (res.ok) box.innerHTML = await res.text();
    } catch { /* the next change tries again */ }
    inFlight = false;
    if (again) { again = false; refresh(); }
  };
  const es = new EventSource(box.dataset.liveQueue);
  es.addEventListener('change', refresh);
  // After a reconnect the page may have missed changes.
  es.addEventListener('hello', refresh);
  // Ages and estimates move on even when nothing changes.
  setInterval(refresh, 30000);
}

// The state fragment's address comes from the page: it carries the job's token when the page has one.
function stateRefresher(state) {
  let fetching = false;
  return async () => {
    if (fetching) return;
    fetching = true;
    try {
      const res = await fetch(state.dataset.stateUrl, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
      if (res.ok) state.innerHTML = await res.text();
    } catch { /* the next event tries again */ }
    fetching = false;
  };
}

// A job page without the token has no log to follow: its state is fetched again when the queue changes.
function livePublicJob(state) {
  const refreshState = stateRefresher(state);
  const es = new EventSource(state.dataset.liveQueueState);
  es.addEventListener('change', refreshState);
}

function liveJob(state, log) {
  const note = document.getElementById('live-note');
  const refreshState = stateRefresher(state);
  if (log.dataset.finished) return;
  const url = new URL(log.dataset.events, location.href);
  url.searchParams.set('offset', log.dataset.offset || '0');
  const es = new EventSource(url);
  if (note) note.textContent = 'live';
  es.addEventListener('log', (ev) => {
    const { text } = JSON.parse(ev.data);
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(document.createTextNode(text));
    if (atBottom) log.scrollTop = log.scrollHeight;
  });
  es.addEventListener('job', refreshState);
  es.addEventListener('end', () => {
    es.close();
    if (note) note.textContent = 'finished';
    refreshState();
  });
}

document.addEventListener('DOMContentLoaded', () => {
  const queue = document.querySelector('[data-live-queue]');
  if (queue && 'EventSource' in window) liveQueue(queue);
  const state = document.getElementById('job-state');
  const log = document.getElementById('log');
  if (state && log && 'EventSource' in window) liveJob(state, log);
  else if (state && state.dataset.liveQueueState && 'EventSource' in window) livePublicJob(state);
  for (const t of document.querySelectorAll('time[datetime]')) {
    if (!t.title) t.title = new Date(t.getAttribute('datetime')).toLocaleString();
  }
});
