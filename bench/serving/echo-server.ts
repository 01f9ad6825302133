/**
 * The echo reference: a bare grpc-js server on the same method path that answers every request
 * with a canned response of the right size, with no Redis and no pitstop code. It reads only the
 * request's feature service (field 1) and entity count (values in field 3) to pick the canned
 * answer captured from pitstop for that shape. Its latency is what this machine and the gRPC
 * transport cost by themselves; pitstop and the floor cannot beat it.
 *
 *   tsx bench/serving/echo-server.ts <port> <responses.json>
 * responses.json maps `<feature_service>/<entity count>` to a base64 GetOnlineFeaturesResponse.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';

const [port, file, httpPort, httpBodyFile] = process.argv.slice(2);
const canned = new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
const empty = Buffer.alloc(0);

function varint(b: Buffer, at: { pos: number }): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[at.pos++];
    v += (byte & 127) * mul;
    if (byte < 128) return v;
    mul *= 128;
  }
}

/** `<feature_service>/<number of entity values>` of a GetOnlineFeaturesRequest. */
function shape(b: Buffer): string {
  const at = { pos: 0 };
  let service = '';
  let count = 0;
  while (at.pos < b.length) {
    const key = varint(b, at);
    const wire = key & 7;
    if (wire === 0) {
      varint(b, at);
      continue;
    }
    const len = varint(b, at);
    const end = at.pos + len;
    if (key === 0x0a) service = b.toString('utf8', at.pos, end);
    else if (key === 0x1a) {
      // map entry { 1: name, 2: RepeatedValue { repeated Value val = 1 } }: count the values.
      while (at.pos < end) {
        const k = varint(b, at);
        const l = varint(b, at);
        if (k === 0x12) {
          const listEnd = at.pos + l;
          while (at.pos < listEnd) {
            varint(b, at);
            const vl = varint(b, at);
            at.pos += vl;
            count++;
          }
        } else at.pos += l;
      }
    }
    at.pos = end;
  }
  return `${service}/${count}`;
}

const identity = (b: Buffer) => b;
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(
  {
    GetOnlineFeatures: {
      path: '/pitstop.serving.v1.ServingService/GetOnlineFeatures',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  } as grpc.ServiceDefinition,
  {
    GetOnlineFeatures: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, canned.get(shape(call.request)) ?? empty),
  },
);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => {
  if (e) throw e;
  process.stdout.write(`echo listening on ${p}\n`);
});
// HTTP/JSON reference: every POST answered with pitstop's own JSON answer to the autocannon
// request (read from httpBodyFile), so autocannon's own cost and node:http's are measured alone.
let httpServer: http.Server | undefined;
if (httpPort) {
  const body = readFileSync(httpBodyFile);
  httpServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  httpServer.listen(Number(httpPort), '127.0.0.1', () => process.stdout.write(`echo http listening on ${httpPort}\n`));
}
process.on('SIGTERM', () => {
  server.forceShutdown();
  httpServer?.close();
  process.exit(0);
});
