#!/usr/bin/env node
// The CLI runs straight from TypeScript sources through tsx's loader: there is no build
// step to forget, so `npx pitstop` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
