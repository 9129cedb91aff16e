// Benchmark of the one kickstart parser on a ~1 MB kickstart: many %packages lines and a long %post.
// Run: node --import tsx deploy/bench/kickstart-parse.ts
import { parseKickstart } from '@img/shared/kickstart';

function bigKickstart(targetBytes: number): string {
  const head = [
    'lang en_US.UTF-8', 'keyboard us', 'timezone --utc UTC', 'network --hostname=bench',
    'part / --size=8192 --fstype=ext4', 'bootloader --timeout=1 --append="console=ttyS0,115200n8 quiet"',
    'repo --name=debian --suite=trixie --components=main,contrib', '', '%packages', '@Standard System',
  ];
  const packages: string[] = [];
  // As many as a kickstart may list (shared/src/kickstart/limits.ts).
  for (let i = 0; i < 5000; i++) packages.push(i % 10 === 0 ? `-excluded-package-${i}` : `package-number-${i}`);
  const post = ['%end', '', '%post --interpreter=/bin/bash'];
  const size = () => head.join('\n').length + packages.join('\n').length + post.join('\n').length;
  for (let i = 0; size() < targetBytes; i++) {
    post.push(`printf '%s\\n' "step ${i}: configuring the image" >> /var/log/img-post.log  # "quoted" 'text'`);
  }
  return [...head, ...packages, ...post, '%end', ''].join('\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const text = bigKickstart(1_000_000);
const warm = parseKickstart(text);
if (warm.errors.length > 0) throw new Error(`the benchmark kickstart does not parse: ${warm.errors[0]?.message}`);
const times: number[] = [];
for (let i = 0; i < 21; i++) {
  const t0 = performance.now();
  parseKickstart(text);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const plan = warm.plan;
console.log(`input: ${Buffer.byteLength(text)} bytes, ${text.split('\n').length} lines, `
  + `${plan?.packages.include.length} packages, ${plan?.packages.exclude.length} exclusions, one %post`);
console.log(`parseKickstart x21: median ${percentile(times, 50).toFixed(2)} ms, p95 ${percentile(times, 95).toFixed(2)} ms`);
