import { apiNotFound } from '@/web/http/guards';

export const dynamic = 'force-dynamic';

// `/api` itself is no endpoint; the catch-all beside it needs at least one more segment.
export {
  apiNotFound as GET,
  apiNotFound as HEAD,
  apiNotFound as OPTIONS,
  apiNotFound as POST,
  apiNotFound as PUT,
  apiNotFound as PATCH,
  apiNotFound as DELETE,
};
