import { json } from '@/lib/http/respond';

export const dynamic = 'force-dynamic';

// Unknown API paths answer in the contract's error shape rather than with the HTML 404 page.
function notFound() {
  return json(404, { error: { code: 'not_found', message: 'There is no such API endpoint. See the contract in the README.' } });
}

export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE };
