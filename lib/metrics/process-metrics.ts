import { readdirSync } from 'node:fs';
import type { MetricFamily } from './prometheus';

const startTimeSeconds = Date.now() / 1000 - process.uptime();

/** The answering process's own numbers, under the names Prometheus client libraries use. */
export function processMetrics(): MetricFamily[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const families: MetricFamily[] = [
    {
      name: 'process_cpu_user_seconds_total',
      help: 'User CPU time spent by this process, in seconds.',
      type: 'counter',
      samples: [{ value: cpu.user / 1e6 }],
    },
    {
      name: 'process_cpu_system_seconds_total',
      help: 'System CPU time spent by this process, in seconds.',
      type: 'counter',
      samples: [{ value: cpu.system / 1e6 }],
    },
    {
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent by this process, in seconds.',
      type: 'counter',
      samples: [{ value: (cpu.user + cpu.system) / 1e6 }],
    },
    {
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size of this process, in bytes.',
      type: 'gauge',
      samples: [{ value: memory.rss }],
    },
    {
      name: 'process_start_time_seconds',
      help: 'When this process started, in seconds since the Unix epoch.',
      type: 'gauge',
      samples: [{ value: Math.round(startTimeSeconds) }],
    },
    {
      name: 'nodejs_heap_size_total_bytes',
      help: 'V8 heap size of this process, in bytes.',
      type: 'gauge',
      samples: [{ value: memory.heapTotal }],
    },
    {
      name: 'nodejs_heap_size_used_bytes',
      help: 'V8 heap in use by this process, in bytes.',
      type: 'gauge',
      samples: [{ value: memory.heapUsed }],
    },
    {
      name: 'nodejs_external_memory_bytes',
      help: 'Memory of C++ objects bound to JavaScript objects, in bytes.',
      type: 'gauge',
      samples: [{ value: memory.external }],
    },
    {
      name: 'nodejs_version_info',
      help: 'The Node.js version of this process.',
      type: 'gauge',
      samples: [{ labels: { version: process.version }, value: 1 }],
    },
  ];
  const fds = openFileDescriptors();
  if (fds !== null)
    families.push({ name: 'process_open_fds', help: 'Open file descriptors of this process.', type: 'gauge', samples: [{ value: fds }] });
  return families;
}

// Linux only; elsewhere the metric is left out rather than reported wrong.
function openFileDescriptors(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}
