// The job page's package list: rows whose name, version or source contain what is typed stay shown.
(() => {
  const input = document.getElementById('package-filter');
  const table = document.getElementById('package-list');
  const shown = document.getElementById('package-shown');
  if (!input || !table) return;
  const rows = Array.from(table.tBodies[0].rows);
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    let n = 0;
    for (const row of rows) {
      const hit = q === '' || row.textContent.toLowerCase().includes(q);
      row.hidden = !hit;
      if (hit) n += 1;
    }
    shown.textContent = q === '' ? '' : `${n} shown`;
  });
})();
