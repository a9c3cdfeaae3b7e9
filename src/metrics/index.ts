// The metrics folder's public surface.
export { COLLECTED_SERIES_MAX, type HistogramSample, type Sample } from './registry.js';
export { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, Registry, SERIES_PER_FAMILY_MAX, Summary, type Labels, type SummaryValue } from './registry.js';
