// The failover building blocks the orchestration calls; each returns a StepResult and never throws for an expected failure.
export type { StepResult } from './step-result';
export { createCommandRunner, runCommand, type CommandResult, type RunCommand } from './command';
export { runPhaseScript, runScript, type FailoverScripts, type ScriptContext, type ScriptPhase, type ScriptRole } from './scripts';
export { restartService, serviceActive, startServices, stopServices, type ServiceOptions, type ServiceState } from './services';
export { moveAddressesIn, releaseAddresses, runDnsHook, type DnsHook, type IdentityOptions, type MovedAddress } from './identity';
export { blockPaths, unblockPaths, readBlockState, type BlockOptions } from './block-paths';
