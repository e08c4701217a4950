/**
 * Powertools Logger and Metrics for one function, with the small PipelineLog / PipelineMetrics
 * faces the core is given (the core never imports Powertools).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PipelineLog, PipelineMetrics } from '../../shared/pipeline/deps.js';

export interface Tools {
  logger: Logger;
  metrics: Metrics;
  log: PipelineLog;
  pm: PipelineMetrics;
}

export function powertools(service: string): Tools {
  const logger = new Logger({ serviceName: `drydock-${service}` });
  const metrics = new Metrics({ namespace: 'Drydock', serviceName: `drydock-${service}` });
  const log: PipelineLog = {
    info: (m, extra) => logger.info(m, extra ?? {}),
    warn: (m, extra) => logger.warn(m, extra ?? {}),
    error: (m, extra) => logger.error(m, extra ?? {}),
  };
  const units = { Count: MetricUnit.Count, Bytes: MetricUnit.Bytes, Milliseconds: MetricUnit.Milliseconds } as const;
  const pm: PipelineMetrics = { add: (name, unit, value) => metrics.addMetric(name, units[unit], value) };
  return { logger, metrics, log, pm };
}
