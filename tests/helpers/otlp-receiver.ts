import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** OTLP/JSON attribute values, as the exporters send them. */
type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  /** The resource of the process that sent it. */
  resource: Record<string, unknown>;
  scope: string;
}

export interface ReceivedPoint {
  metric: string;
  attributes: Record<string, unknown>;
  value: number;
  resource: Record<string, unknown>;
}

/**
 * A real OTLP/HTTP receiver for the JSON encoding, on a real port: what a collector would get from
 * the processes under test, kept for the test to read.
 */
export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  // Every failure is answered inside, so the promise needs no other handler.
  const server = createServer(
    (req, res) =>
      void (async () => {
        try {
          const body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
          if (req.url === '/v1/traces') collectSpans(body, spans);
          else if (req.url === '/v1/metrics') collectPoints(body, points);
          else {
            res.writeHead(404).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      })(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    points,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue;
  }
  return out;
}

interface Resourced<T> {
  resource?: { attributes?: KeyValue[] };
  scopeSpans?: { scope?: { name?: string }; spans?: T[] }[];
  scopeMetrics?: { scope?: { name?: string }; metrics?: T[] }[];
}

type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: KeyValue[];
  links?: { traceId: string; spanId: string }[];
};

function collectSpans(body: Record<string, unknown>, into: ReceivedSpan[]) {
  for (const rs of (body.resourceSpans ?? []) as Resourced<OtlpSpan>[]) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        into.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          attributes: attributesOf(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
}

type NumberPoint = { attributes?: KeyValue[]; asInt?: number | string; asDouble?: number; count?: number | string };
type OtlpMetric = {
  name: string;
  sum?: { dataPoints?: NumberPoint[] };
  gauge?: { dataPoints?: NumberPoint[] };
  histogram?: { dataPoints?: NumberPoint[] };
};

function collectPoints(body: Record<string, unknown>, into: ReceivedPoint[]) {
  for (const rm of (body.resourceMetrics ?? []) as Resourced<OtlpMetric>[]) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        // Sums and gauges report their value; histograms their count.
        for (const p of [...(m.sum?.dataPoints ?? []), ...(m.gauge?.dataPoints ?? []), ...(m.histogram?.dataPoints ?? [])]) {
          into.push({
            metric: m.name,
            attributes: attributesOf(p.attributes),
            value: Number(p.asInt ?? p.asDouble ?? p.count ?? Number.NaN),
            resource,
          });
        }
      }
    }
  }
}
