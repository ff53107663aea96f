// An OTLP/HTTP (protobuf) receiver for Akt's tests, independent of Akt's
// own .proto files: every body is decoded with the OpenTelemetry JavaScript
// project's generated protobufjs root (@opentelemetry/otlp-transformer).
//
//   node receiver.mjs [--respond 503,503,400] [--retry-after SECONDS]
//
// It listens on 127.0.0.1 and a free port, and prints "listening <port>" as
// its first line. Then one JSON line per request, written before the answer
// goes out (stdout to a pipe is synchronous on Linux, so a client that has
// its answer knows the line is in the pipe):
//
//   {"path": "/v1/traces", "status": 200, "contentType": "...", "headers": {...}, "body": {...}}
//
// "body" is the decoded Export*ServiceRequest as JSON: protobufjs field names
// (camelCase), 64-bit integers as decimal strings, enums by name, trace and
// span ids as lower-case hex. A body that does not decode gives "error"
// instead (and a 400 answer).
//
// --respond: the statuses of the first requests, in order (503 and 429 carry
// Retry-After: --retry-after, default 0); every later one gets 200 with an
// empty Export*ServiceResponse.
//
// GET /sync?id=X prints {"path": "/sync", "id": "X"} and answers 200: once a
// test sees that line, it has every line of the requests answered before.
//
// It exits when its standard input closes (the test ended), so it never
// outlives the test.
import { createRequire } from 'node:module';
import http from 'node:http';

const require = createRequire(import.meta.url);
const { opentelemetry } = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const collector = opentelemetry.proto.collector;
const signals = {
  '/v1/metrics': {
    request: collector.metrics.v1.ExportMetricsServiceRequest,
    response: collector.metrics.v1.ExportMetricsServiceResponse,
  },
  '/v1/traces': {
    request: collector.trace.v1.ExportTraceServiceRequest,
    response: collector.trace.v1.ExportTraceServiceResponse,
  },
};

function parseArgs(argv) {
  const out = { respond: [], retryAfter: '0' };
  for (let i = 0; i < argv.length; ++i) {
    const value = argv[i + 1];
    if (argv[i] === '--respond' && value !== undefined) {
      out.respond = value.split(',').filter((s) => s !== '').map((s) => {
        const status = Number(s);
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          throw new Error(`--respond: "${s}" is not an HTTP status (200..599)`);
        }
        return status;
      });
      ++i;
    } else if (argv[i] === '--retry-after' && value !== undefined) {
      out.retryAfter = value;
      ++i;
    } else {
      throw new Error(`unknown argument "${argv[i]}" (allowed: --respond LIST, --retry-after SECONDS)`);
    }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
let scripted = 0;

const idFields = new Set(['traceId', 'spanId', 'parentSpanId']);

// Ids as hex; every other bytes field stays base64 (as toObject gives it).
function idsToHex(value) {
  if (Array.isArray(value)) return value.map(idsToHex);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = idFields.has(k) && typeof v === 'string' ? Buffer.from(v, 'base64').toString('hex') : idsToHex(v);
  }
  return out;
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function handle(req, res, body) {
  const url = new URL(req.url, 'http://receiver');
  if (req.method === 'GET' && url.pathname === '/sync') {
    print({ path: '/sync', id: url.searchParams.get('id') ?? '' });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    return;
  }
  const signal = signals[url.pathname];
  if (req.method !== 'POST' || signal === undefined) {
    print({ path: url.pathname, method: req.method, status: 404 });
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no ${req.method} ${url.pathname} here`);
    return;
  }
  const line = { path: url.pathname, status: 200, contentType: req.headers['content-type'] ?? '', headers: req.headers };
  let decoded;
  try {
    decoded = signal.request.decode(body);
  } catch (e) {
    line.status = 400;
    line.error = `cannot decode the body (${body.length} bytes): ${e.message}`;
    print(line);
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end(line.error);
    return;
  }
  line.body = idsToHex(
    signal.request.toObject(decoded, { longs: String, enums: String, bytes: String, defaults: false, arrays: true }),
  );
  if (scripted < args.respond.length) {
    line.status = args.respond[scripted++];
  }
  print(line);
  if (line.status === 200) {
    const answer = signal.response.encode(signal.response.create({})).finish();
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(Buffer.from(answer));
    return;
  }
  const headers = { 'Content-Type': 'text/plain' };
  if (line.status === 429 || line.status === 503) headers['Retry-After'] = args.retryAfter;
  res.writeHead(line.status, headers).end(`scripted failure: ${line.status}`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
});
server.keepAliveTimeout = 1000;

server.listen(0, '127.0.0.1', () => {
  printRaw(`listening ${server.address().port}`);
});

function printRaw(text) {
  process.stdout.write(text + '\n');
}

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
