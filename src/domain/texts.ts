/**
 * Every sentence Vigil writes for people (run errors, events, comments), in one place so wording
 * and redaction are reviewed together. Strings quoted by RECOVERY.md are reproduced byte for byte.
 */
export const runTexts = {
  // R4 claim gates
  agentGone: 'Cancelled because the agent no longer exists',
  agentNotInvokable: 'Cancelled because the agent is not invokable',
  pauseHoldActive: 'Cancelled because issue is held by an active subtree pause hold',
  dependenciesBlocked: 'Cancelled because the issue has unresolved blockers',
  staleIssue: (code: string) => `Cancelled because the queued run is stale (${code})`,
  // R14, R15
  cancelledByControlPlane: 'Cancelled by control plane',
  cancelledByAgentPause: 'Cancelled due to agent pause',
  // lifecycle events (R8 step 3)
  runStarted: 'run started',
  runFinished: (status: string) => `run ${status}`,
  adapterInvoked: (pid: number) => `adapter process started (pid ${pid})`,
} as const;

export const agentTexts = {
  notInvokable: 'Agent is not invokable in its current state',
} as const;

/** R74: budget invocation block reasons. */
export const budgetTexts = {
  companyPausedForBudget: 'Company is paused because its budget hard-stop was reached.',
  companyPaused: 'Company is paused and cannot start new work.',
  companyBudgetExceeded: 'Company cannot start new work because its budget hard-stop is exceeded.',
  agentPausedForBudget: 'Agent is paused because its budget hard-stop was reached.',
  agentBudgetExceeded: 'Agent cannot start because its budget hard-stop is still exceeded.',
  projectBudgetExceeded: 'Project cannot start new work because its budget hard-stop is exceeded.',
} as const;
