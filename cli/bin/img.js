#!/usr/bin/env node
// The `img` command: loads the TypeScript entry point through tsx so `npx img …` works from a checkout.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
