import type { Metadata } from 'next';
import { Dashboard } from '../components/dashboard/Dashboard';

export const metadata: Metadata = { title: 'Dashboard · Finish Line' };

/** The operator's view: everything on it arrives live over the dashboard socket. */
export default function DashboardPage() {
  return <Dashboard />;
}
