import { register } from 'tsx/esm/api';
register();
const f = process.argv[2];
await import(f);
for (let i = 0; i < 4; i++) global.gc();
const h = process.memoryUsage();
console.log(f.padEnd(40), (h.heapUsed/1e6).toFixed(1), 'MB heap', (h.external/1e6).toFixed(1), 'MB ext');
