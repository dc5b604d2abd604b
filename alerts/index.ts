export { createAlertsApi, eventView, ruleView, type AlertsApi, type AlertsApiOptions, type ApiResponse, type EventView, type RuleView } from './api';
export { runAlertsCli, type CliIo } from './cli';
export { evaluateRules, readRule, type RuleEvaluation, type RuleReading } from './evaluate';
export { alertIntervalMsFromEnv, startAlertEvaluator, type AlertEvaluator, type AlertEvaluatorOptions, type TickResult } from './evaluator';
export { sendTestNotification, type DeliveryOptions } from './notify';
export {
  COMPARISONS,
  describeCondition,
  METRIC_SPECS,
  METRICS,
  STATISTICS,
  validateRule,
  type FieldError,
  type RuleDefinition,
  type RuleInput,
  type RuleState,
} from './rule';
export { applyRulesFile, RulesFileError, type ApplySummary } from './rules-file';
export { listRules, type Delivery } from './rules-store';
