'use client';

import { use } from 'react';
import { BatchLive } from '../../components/BatchLive';

/** Keyed by id so that moving between batches starts from a clean slate, never a mix of two grids. */
export default function BatchPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = use(params);
  return <BatchLive key={id} batchId={id} />;
}
