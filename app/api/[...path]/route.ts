import { apiNotFound } from '@/web/http/guards';

export const dynamic = 'force-dynamic';

export {
  apiNotFound as GET,
  apiNotFound as HEAD,
  apiNotFound as OPTIONS,
  apiNotFound as POST,
  apiNotFound as PUT,
  apiNotFound as PATCH,
  apiNotFound as DELETE,
};
