import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OtelSettings } from '../config';
import type { Logger } from '../log';

const FLUSH_LIMIT_MS = 5000;

export interface TelemetryIdentity {
  role: 'web' | 'worker';
  /** This process among others of its role: the worker id, or host-pid for a web server. */
  instanceId: string;
}

/**
 * Starts OpenTelemetry for this process when the settings say so: a tracer provider and a meter
 * provider exporting OTLP/HTTP (JSON) to the collector, registered globally, so our spans, pg-boss's
 * built-in spans and metrics, and Next.js's request spans all go out. Returns the stop step, which
 * flushes what is buffered. When off, nothing is loaded: the SDK modules are imported only here.
 */
export async function startTelemetry(settings: OtelSettings, identity: TelemetryIdentity, log: Logger): Promise<() => Promise<void>> {
  if (!settings.enabled) return async () => undefined;

  const [api, core, hooks, resources, sdkTrace, sdkMetrics, { OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
  ]);

  // Export failures (a collector that is down) come through diag: say so at warn, once a minute at most.
  api.diag.setLogger(throttledDiag(log), api.DiagLogLevel.WARN);

  const resource = resources.resourceFromAttributes({
    'service.name': settings.serviceName ?? `finish-line-${identity.role}`,
    'service.instance.id': identity.instanceId,
    'finishline.role': identity.role,
    'host.name': hostname(),
    'process.pid': process.pid,
  });

  const tracerProvider = new sdkTrace.TracerProvider({
    resource,
    spanProcessors: [
      new sdkTrace.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${settings.endpoint}/v1/traces` }),
        scheduledDelayMillis: settings.spanExportDelayMs,
      }),
    ],
  });
  const meterProvider = new sdkMetrics.MeterProvider({
    resource,
    readers: [
      new sdkMetrics.PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${settings.endpoint}/v1/metrics` }),
        exportIntervalMillis: settings.metricExportIntervalMs,
      }),
    ],
  });

  // AsyncLocalStorage carries the active span across awaits; without it every span would be a root.
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(tracerProvider);
  api.metrics.setGlobalMeterProvider(meterProvider);
  log.info('telemetry exporting', { endpoint: settings.endpoint, serviceName: resource.attributes['service.name'] });

  return async () => {
    // Shutting down flushes: the spans of the last moments (a batch's completion) still go out. A
    // collector that does not answer must not hold the process past its stop timeout.
    const flushed = Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    const results = await Promise.race([flushed, sleep(FLUSH_LIMIT_MS, null, { ref: false })]);
    if (results === null) log.warn('telemetry flush gave up', { afterMs: FLUSH_LIMIT_MS });
    for (const result of results ?? []) if (result.status === 'rejected') log.warn('telemetry flush failed', { err: result.reason });
    api.trace.disable();
    api.metrics.disable();
    api.propagation.disable();
    api.context.disable();
  };
}

function throttledDiag(log: Logger) {
  const lastSaid = new Map<string, number>();
  const say =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]) => {
      const now = Date.now();
      if (now - (lastSaid.get(message) ?? 0) < 60_000) return;
      lastSaid.set(message, now);
      log[level]('telemetry: ' + message, { detail: args.map(String).join(' ').slice(0, 500) || undefined });
    };
  const quiet = () => undefined;
  return { error: say('error'), warn: say('warn'), info: quiet, debug: quiet, verbose: quiet };
}
