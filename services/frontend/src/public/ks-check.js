// The submit page's check of a kickstart while it is written or chosen: the text goes to
// POST /api/v1/kickstart/check (the same reading and package check as a submission) and the errors
// and warnings are shown beside it, by line, before the person presses Build. The page works without
// this file; everything is inserted as text.
'use strict';

function ksCheck(panel) {
  const form = panel.closest('form');
  const area = form.querySelector('textarea[name="kickstart"]');
  const file = form.querySelector('input[name="ksfile"]');
  const suite = form.querySelector('select[name="suite"]');
  const arch = form.querySelector('select[name="arch"]');
  let fileText = '';
  let timer;
  let sent = 0;

  const item = (list, cls, line, message) => {
    const li = document.createElement('li');
    li.className = cls;
    if (line) li.dataset.line = String(line);
    li.textContent = line ? `line ${line}: ${message}` : message;
    list.append(li);
  };

  const show = (answer) => {
    panel.replaceChildren();
    const head = document.createElement('p');
    head.className = 'ks-check-head';
    const p = answer.package_check;
    const packages = p.state === 'checked' ? `packages checked against ${p.against}`
      : p.state === 'skipped' ? `packages not checked: ${p.reason}`
        : `the packages will be checked when the build starts (no package lists of ${p.against} were read yet)`;
    head.textContent = `${answer.errors.length === 0 ? 'This kickstart can be built' : `${answer.errors.length} error${answer.errors.length === 1 ? '' : 's'}: the build would be refused`}; ${answer.warnings.length} warning${answer.warnings.length === 1 ? '' : 's'}; ${packages}.`;
    panel.append(head);
    const list = document.createElement('ul');
    for (const e of answer.errors) item(list, 'ks-error', e.line, e.message);
    for (const w of answer.warnings) item(list, 'ks-warning', w.line, w.message);
    if (list.children.length > 0) panel.append(list);
    panel.dataset.state = answer.errors.length === 0 ? 'ok' : 'errors';
    panel.hidden = false;
  };

  const check = async () => {
    const text = area.value.trim() ? area.value : fileText;
    if (!text.trim()) {
      panel.hidden = true;
      return;
    }
    const mine = ++sent;
    panel.dataset.state = 'checking';
    try {
      const res = await fetch(panel.dataset.checkUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ kickstart: text, ...(suite && suite.value ? { suite: suite.value } : {}), ...(arch && arch.value ? { arch: arch.value } : {}) }),
      });
      const answer = await res.json();
      if (mine !== sent) return;
      if (!res.ok) {
        panel.replaceChildren(Object.assign(document.createElement('p'), { textContent: answer.error ? answer.error.message : `the check answered ${res.status}` }));
        panel.hidden = false;
        return;
      }
      show(answer);
    } catch {
      // Offline or the server away: the submission checks everything anyway.
    }
  };

  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 500);
  };
  area.addEventListener('input', soon);
  if (suite) suite.addEventListener('change', soon);
  if (arch) arch.addEventListener('change', soon);
  if (file) {
    file.addEventListener('change', async () => {
      fileText = file.files && file.files[0] ? await file.files[0].text() : '';
      soon();
    });
  }
  if (area.value.trim()) soon();
}

document.addEventListener('DOMContentLoaded', () => {
  const panel = document.getElementById('ks-check');
  if (panel && window.fetch) ksCheck(panel);
});
