// The delivery report's shapes: what `report --json` prints and what the table and the page read,
// kept apart from the counting so the readers need not load it.
import type { ReleaseRecord } from '../releases/ledger.mts';
import type { DeployLogRecord } from './metrics.mts';

export interface ProductHistory {
  product: string;
  /** The ledger in file order. */
  records: ReleaseRecord[];
  /** This product's deploy-log lines. */
  log?: DeployLogRecord[];
  /** Commit time (ISO) of each released SHA git knows. */
  commitTimes?: Record<string, string>;
  /** maxImageMb per service, from the product file. */
  budgets?: Record<string, number>;
  /** The product's keepReleases: hygiene keeps that many releases' images on the engine. */
  keepReleases?: number;
}

export interface Window {
  since: Date;
  until: Date;
}

export interface Spread {
  samples: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** The four delivery metrics: what the trend compares with the window before. */
export interface KeyMetrics {
  deploys: number;
  deploysPerDay: number;
  changeFailureRate: number | null;
  restoreP50Ms: number | null;
  leadTimeP50Ms: number | null;
}

export interface Metrics extends KeyMetrics {
  deploysPerWeek: number;
  ok: number;
  changeFailures: number;
  restore: Spread & { open: number };
  leadTime: Spread;
  duration: Spread & { steps: Record<string, { p50Ms: number | null; p95Ms: number | null }> };
  rollbacks: Spread & { manual: number; auto: number };
  /** Deploys that failed before changing anything (deploy log only: preflight, plan). */
  refused: number;
  /** Lines dated before a line above them (the file's order is what happened). */
  clockSkew: number;
}

export type Outcome = 'ok' | 'failed' | 'rolled-back' | 'rollback' | 'unchanged';

export interface TimelineEntry {
  time: string;
  tag: string;
  who: string;
  kind: string;
  outcome: Outcome;
  changeFailure: boolean;
  durationMs: number | null;
  steps: Record<string, number>;
  /** When a manual rollback undid this deploy. */
  rolledBackAt?: string;
  error?: string;
}

export interface ImagePoint {
  tag: string;
  time: string;
  sizeBytes: number;
}

export interface ImageTrend {
  service: string;
  points: ImagePoint[];
  budgetMb?: number;
  /** The newest size is over the budget. */
  over: boolean;
}

export interface RollbackTarget {
  tag: string;
  time: string;
  who: string;
  services: string[];
  /** local: among the releases hygiene keeps; registry: every image has a digest; missing: neither. */
  source: 'local' | 'registry' | 'missing';
}

export interface ProductReport {
  product: string;
  current?: { tag: string; time: string; who: string };
  metrics: Metrics;
  previous: KeyMetrics;
  timeline: TimelineEntry[];
  images: ImageTrend[];
  rollbackTargets: RollbackTarget[];
}

export interface DeliveryReport {
  generatedAt: string;
  since: string;
  until: string;
  windowDays: number;
  rollbackWindowHours: number;
  total: Metrics;
  previousTotal: KeyMetrics;
  products: ProductReport[];
  /** No product has a single ledger record: "no deploys yet". */
  empty: boolean;
}
