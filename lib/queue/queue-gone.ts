/** pg-boss no longer knows the queue, or its table was dropped under a cached entry (42P01): its batch has ended. */
export function isQueueGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'PGBOSS_QUEUE_NOT_FOUND' || code === '42P01';
}
