// A fault-injecting HTTP/1.1 proxy to put between an S3 client and the S3 server (app/test/s3-server.ts).
// Requests and responses stream through unbuffered; a fault can cut a request off mid-body, answer it with
// an S3 error, delay it, or hold it until the test releases it (e.g. to kill -9 an uploader at part 2).

import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';
import { classifyS3Request, s3ErrorXml, type S3Op, type S3RequestInfo } from './s3-server.ts';

/**
 * What became of a request: 'pending' while undecided or on its way, 'held' until {@link FaultProxy.releaseHeld}
 * (then 'forwarded'), 'stalled' when it was delayed and then forwarded, 'dropped' when the connection was cut
 * (by a drop fault or by going offline), `status:<code>` for an injected error, 'rejected-checksum' for
 * {@link FaultProxy.rejectChecksumHeaders}.
 */
export type ProxyOutcome = 'pending' | 'held' | 'forwarded' | 'stalled' | 'dropped' | `status:${number}` | 'rejected-checksum';

/** One request the proxy received. */
export interface ProxiedRequest extends S3RequestInfo {
  /** 1, 2, … in arrival order. */
  id: number;
  headers: IncomingHttpHeaders;
  /** Request-body bytes read from the client so far (for a drop, exactly the bytes forwarded). */
  bytes: number;
  outcome: ProxyOutcome;
  /** The S3 server's response status, once a forwarded request has one. */
  status?: number;
}

/** What a {@link Fault} does to the request it matches. */
export type FaultAction =
  /** Forwards that many request-body bytes, then destroys the client's socket (and the upstream request). */
  | { kind: 'drop'; afterBytes: number }
  /** Reads the body, then answers with an S3 error document without forwarding. */
  | { kind: 'status'; status: 500 | 503 | 400 | 404; code?: string }
  /** Waits that long, then forwards. */
  | { kind: 'stall'; ms: number }
  /** Waits until {@link FaultProxy.releaseHeld}, then forwards. */
  | { kind: 'hold' }
  /**
   * Forwards, then gives the client this ETag instead of the store's: a store whose ETags are not MD5s
   * (SSE-KMS, some S3-compatible stores), or, with another MD5, bytes the store received damaged.
   */
  | { kind: 'etag'; etag: string };

/** A fault applied to the next `times` requests that `match` (faults are tried in the order added). */
export interface Fault {
  match: (request: ProxiedRequest) => boolean;
  /** Default 1; Infinity for every match. */
  times?: number;
  action: FaultAction;
}

/** A running {@link startFaultProxy}. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: give it to the S3 client instead of the server's endpoint. */
  endpoint: string;
  port: number;
  /** Every request received, oldest first. */
  requests: ProxiedRequest[];
  /** Adds a fault; returns a function that removes it. */
  addFault: (fault: Fault) => () => void;
  /** When on, requests with `x-amz-checksum-*` or `x-amz-sdk-checksum-algorithm` get 400 InvalidRequest, as from an older store. */
  rejectChecksumHeaders: (on: boolean) => void;
  /** Resolves with the first request, already received or still to come, that matches; rejects after `timeoutMs` (default 10 s). */
  waitFor: (match: (request: ProxiedRequest) => boolean, options?: { timeoutMs?: number }) => Promise<ProxiedRequest>;
  /** Forwards every held request. */
  releaseHeld: () => void;
  /** When on, open connections are destroyed and new ones destroyed as they arrive: the network is gone. */
  setOffline: (on: boolean) => void;
  /** How many requests of that operation (and part number) were received, whatever became of them. */
  count: (op: S3Op, partNumber?: number) => number;
  /** Cuts every connection and stops listening; safe to call twice. */
  close: () => Promise<void>;
}

/** The address the proxy forwards to, e.g. `{ host: '127.0.0.1', port: s3.port }`. */
export interface ProxyTarget {
  host: string;
  port: number;
}

const DEFAULT_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'InvalidRequest', message: 'Invalid Request' },
  404: { code: 'NoSuchKey', message: 'The specified key does not exist.' },
  500: { code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  503: { code: 'SlowDown', message: 'Please reduce your request rate.' },
};

// Hop-by-hop headers are the proxy's own business; `expect: 100-continue` was already answered to the client.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect']);

/** Starts a proxy on 127.0.0.1 (port 0) that forwards to `target`. */
export async function startFaultProxy(target: ProxyTarget): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const faults: Array<{ fault: Fault; left: number }> = [];
  const waiters = new Set<{ match: (request: ProxiedRequest) => boolean; resolve: (request: ProxiedRequest) => void }>();
  const held = new Set<() => void>();
  const sockets = new Set<Socket>();
  const inFlight = new Set<ProxiedRequest>();
  const agent = new Agent({ keepAlive: true });
  let offline = false;
  let rejectChecksums = false;

  const server = createServer();
  // Held requests may wait long; keep-alive connections stay until the client closes them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    if (offline) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (offline) return void req.socket.destroy();
    const url = new URL(req.url ?? '/', 'http://proxy');
    const record: ProxiedRequest = {
      ...classifyS3Request(req.method ?? 'GET', url.pathname, Object.fromEntries(url.searchParams)),
      id: requests.length + 1,
      headers: req.headers,
      bytes: 0,
      outcome: 'pending',
    };
    requests.push(record);
    inFlight.add(record);
    res.once('close', () => inFlight.delete(record));
    // Decided before anyone waiting hears of the request, so a waitFor sees a held request as 'held'.
    const header = rejectChecksums ? checksumHeader(req.headers) : undefined;
    if (header) {
      record.outcome = 'rejected-checksum';
      void readBody(req, record).then(() => sendError(res, 400, 'InvalidRequest', `Unsupported header '${header}' received for this API call.`));
    } else {
      void handle(req, res, record, takeFault(record));
    }
    for (const waiter of waiters) {
      if (waiter.match(record)) {
        waiters.delete(waiter);
        waiter.resolve(record);
      }
    }
  });

  function takeFault(record: ProxiedRequest): FaultAction | undefined {
    const entry = faults.find(({ fault, left }) => left > 0 && fault.match(record));
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) faults.splice(faults.indexOf(entry), 1);
    if (entry.fault.action.kind === 'hold') record.outcome = 'held';
    return entry.fault.action;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, action: FaultAction | undefined): Promise<void> {
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    if (action?.kind === 'status') {
      record.outcome = `status:${action.status}`;
      await readBody(req, record);
      const known = DEFAULT_ERRORS[action.status] ?? { code: 'InternalError', message: 'Injected error.' };
      return sendError(res, action.status, action.code ?? known.code, known.message);
    }
    if (action?.kind === 'stall') {
      const waited = await sleep(action.ms, true, { signal: gone.signal }).catch(() => false);
      if (!waited) return;
      record.outcome = 'stalled';
    }
    if (action?.kind === 'hold') {
      const released = await new Promise<boolean>((resolve) => {
        const release = (): void => resolve(true);
        held.add(release);
        gone.signal.addEventListener('abort', () => {
          held.delete(release);
          resolve(false);
        });
      });
      if (!released) return;
    }
    if (record.outcome === 'pending' || record.outcome === 'held') record.outcome = 'forwarded';
    forward(req, res, record, action?.kind === 'drop' ? action.afterBytes : Infinity, action?.kind === 'etag' ? action.etag : undefined);
  }

  function forward(req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, dropAfter: number, etag?: string): void {
    if (dropAfter <= 0) {
      record.outcome = 'dropped';
      return void req.socket.destroy();
    }
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers, agent }, (response) => {
      record.status = response.statusCode;
      const responseHeaders: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(response.headers)) if (!HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      if (etag !== undefined && responseHeaders.etag !== undefined) responseHeaders.etag = `"${etag}"`;
      res.writeHead(response.statusCode ?? 502, response.statusMessage, responseHeaders);
      response.pipe(res);
      response.on('error', () => res.destroy());
    });
    const drop = (): void => {
      record.outcome = 'dropped';
      req.socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', () => {
      if (record.outcome !== 'dropped') res.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Stream the body by hand, with back-pressure, so the bytes can be counted and cut at `dropAfter`.
    req.on('data', (chunk: Buffer) => {
      if (record.outcome === 'dropped') return;
      const room = dropAfter - record.bytes;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      record.bytes += piece.length;
      if (record.bytes >= dropAfter) {
        req.pause();
        record.outcome = 'dropped';
        upstream.write(piece, () => drop());
        return;
      }
      if (!upstream.write(piece)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.once('end', () => {
      if (record.outcome === 'dropped') return;
      // A drop past the end of the body still cuts the connection before any response comes back.
      if (Number.isFinite(dropAfter)) return drop();
      upstream.end();
    });
    req.on('error', () => upstream.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    addFault: (fault) => {
      const entry = { fault, left: fault.times ?? 1 };
      faults.push(entry);
      return () => {
        const at = faults.indexOf(entry);
        if (at >= 0) faults.splice(at, 1);
      };
    },
    rejectChecksumHeaders: (on) => {
      rejectChecksums = on;
    },
    waitFor: (match, { timeoutMs = 10_000 } = {}) => {
      const seen = requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (request: ProxiedRequest) => {
            clearTimeout(timer);
            resolve(request);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const summary = requests.map((request) => `${request.op}${request.partNumber ?? ''}:${request.outcome}`).join(', ');
          reject(new Error(`fault proxy: no matching request within ${timeoutMs} ms; saw [${summary}]`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    releaseHeld: () => {
      const releases = [...held];
      held.clear();
      for (const release of releases) release();
    },
    setOffline: (on) => {
      offline = on;
      if (!on) return;
      for (const record of inFlight) record.outcome = 'dropped';
      for (const socket of sockets) socket.destroy();
    },
    count: (op, partNumber) => requests.filter((request) => request.op === op && (partNumber === undefined || request.partNumber === partNumber)).length,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        offline = true;
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
      return closed;
    },
  };
}

/** A {@link startFaultProxy} closed when the current test finishes; call it inside a test. */
export async function useFaultProxy(target: ProxyTarget): Promise<FaultProxy> {
  const proxy = await startFaultProxy(target);
  onTestFinished(proxy.close);
  return proxy;
}

/** The first checksum header a store that predates flexible checksums would not know, if any. */
function checksumHeader(headers: IncomingHttpHeaders): string | undefined {
  return Object.keys(headers).find((name) => name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm');
}

/** Reads and discards the request body, counting it. */
async function readBody(req: IncomingMessage, record: ProxiedRequest): Promise<void> {
  await new Promise<void>((resolve) => {
    req.on('data', (chunk: Buffer) => {
      record.bytes += chunk.length;
    });
    req.once('end', resolve);
    req.once('error', () => resolve());
    req.once('close', resolve);
  });
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.destroyed) return;
  const body = s3ErrorXml(code, message);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
