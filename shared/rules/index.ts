// Replication-set rules engine: schema, matcher and walk roots.
export { RuleSchema, RulesSchema, type Rule, type RuleInput } from './schema';
export { compileRules, type RuleMatcher, type RuleDecision } from './matcher';
export { protectedRoots } from './protected-roots';
