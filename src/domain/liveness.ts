/**
 * R42–R45: run liveness classification. Given a finished run, the evidence it left behind and
 * what it said, decide whether it moved its issue forward. Pure (no I/O, no clock, no Node
 * imports) so activities and workflows may both import it; the caller counts the evidence.
 */

export type LivenessState = 'completed' | 'advanced' | 'plan_only' | 'empty_response' | 'blocked' | 'failed' | 'needs_followup';
export type Actionability = 'unknown' | 'runnable' | 'approval_required' | 'blocked_external' | 'manager_review';

/** R43: what the run left behind. Counts are for this run only. */
export interface LivenessEvidence {
  issueComments: number;        // comments on the issue with createdByRunId = run
  documentRevisions: number;    // revisions by the run on docs attached to the issue, excluding key `continuation-summary`, INCLUDING plan revisions
  planRevisions: number;        // the subset whose attachment key is `plan`
  workProducts: number;         // always 0 in Vigil today, keep the field
  workspaceOperations: number;  // setup evidence only, NOT concrete progress
  activity: number;             // activity_log rows with runId = run (lease actions already excluded by the caller)
  toolEvents: number;           // run events that are tool/action events (caller excludes lifecycle, adapter.invoke, error, log)
  lastEvidenceAt: Date | null;  // latest timestamp across the evidence sources
}

/** No evidence at all: what an unsucceeded run is classified with (R42 gathers evidence only for a succeeded run). */
export const NO_LIVENESS_EVIDENCE: LivenessEvidence = {
  issueComments: 0,
  documentRevisions: 0,
  planRevisions: 0,
  workProducts: 0,
  workspaceOperations: 0,
  activity: 0,
  toolEvents: 0,
  lastEvidenceAt: null,
};

export interface LivenessInput {
  runStatus: string;                 // succeeded | failed | cancelled | timed_out
  errorCode: string | null;
  issue: { status: string; title: string; description: string | null } | null;  // null = run not issue-bound
  evidence: LivenessEvidence;
  recentComments: string[];          // bodies of up to 5 most recent comments by this run on the issue, chronological
  resultJson: Record<string, unknown> | null;
  stdoutExcerpt: string | null;
  stderrExcerpt: string | null;
  error: string | null;
  continuationSummary: string | null;
}

export interface LivenessClassification {
  livenessState: LivenessState;
  livenessReason: string;          // already truncated with truncateReason
  nextAction: string | null;       // ≤ 500 chars (truncateReason)
  lastUsefulActionAt: Date | null; // only for advanced, completed, blocked; else null
}

const MAX_REASON = 500;

/** R42: reasons and next actions are at most 500 chars; longer text keeps 497 plus "...". */
export function truncateReason(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 3)}...`;
}

/** Every `livenessReason` sentence, in the order of the R45 steps that use it. */
export const livenessReasons = {
  // step 1 (R45 wording)
  runEnded: (status: string, errorCode: string | null) => (errorCode ? `Run ended with ${status} (${errorCode})` : `Run ended with ${status}`),
  // step 2 (R45 wording)
  issueClosed: (status: string) => `Issue is ${status}`,
  // step 3
  issueBlocked: 'Issue status is blocked',
  approvalRequired: 'Run output says approval is required before work can continue',
  externalBlocker: 'Run output declared an external blocker (access, credentials or input it does not have)',
  // step 4
  noOutputNoEvidence: 'Run succeeded without useful output or concrete action evidence',
  // step 5 (R45 wording before the colon)
  concreteEvidence: (parts: string) => `Run produced concrete action evidence: ${parts}`,
  // step 6
  planExemptIssue: 'Issue asks for a plan or written analysis, and the run produced useful output',
  planExemptRevision: 'Run saved a plan revision, which counts as progress',
  // step 7
  runnablePlan: 'Run described runnable next steps without concrete action evidence',
  managerReviewPlan: 'Run described next steps that need manager review before anyone continues',
  unclearPlan: 'Run described next steps that are not clearly runnable',
  // step 8
  outputWithoutEvidence: 'Run produced output but no concrete action evidence',
  // step 9
  noOutput: 'Run succeeded without useful output',
} as const;

// ---------------------------------------------------------------------------------------------
// Patterns. All are case-insensitive except shell commands; `['’]` accepts typographic quotes.

const alternatives = (words: readonly string[]) => `(?:${words.join('|')})`;

// R45: verbs that turn stated intent into a concrete plan ("I will inspect …").
const ACTION_VERBS = ['inspect', 'check', 'review', 'look', 'investigate', 'analy[sz]e', 'open', 'read', 'start', 'begin', 'work on', 'implement', 'fix', 'test', 'update', 'create', 'add'];
// R45: first-person future-intent openers ("next …" covers "next, I will …").
const FUTURE_INTENT = ["I['’]ll", 'I will', 'I am going to', "I['’]m going to", 'let me', 'I need to', "next,?(?: I will| I['’]ll)?", '(?:my|the) next step is(?: to)?'];
// R45 looks-planning-only: an intent opener, optionally "first", then an action verb.
const PLANNING_INTENT = new RegExp(`\\b${alternatives(FUTURE_INTENT)}\\s+(?:first\\s+)?${alternatives(ACTION_VERBS)}\\b`, 'i');
// R45: a "Next step(s):", "Next:", "Next action:" or "Plan:" label; group 1 = label, group 2 = rest of line.
// Tolerates markdown bold around the label (list markers and headings are stripped beforehand).
const LABELLED_LINE = /^(?:\*\*|__)?(next(?: steps?| action)?|plan)(?:\*\*|__)?\s*:(?:\*\*|__)?\s*(.*)$/i;
// Markdown list markers and heading hashes in front of a line's text.
const LINE_DECORATION = /^(?:[-*+]\s+|\d+[.)]\s+|#{1,6}\s+)+/;

// R44 noise: transcript `key:` lines.
const TRANSCRIPT_KEY_LINE = /^(?:command|status|exit_code|tool|tool_call|tool_result|stdout|stderr|event|payload|session|cwd|ref_id)\s*:/i;
// R44 noise: JSON-looking lines that mention a tool, event or command (`{"type":"tool_use",…}`).
const TRANSCRIPT_JSON_LINE = /^[{[].*(?:tool|event|command)/i;
// R44 noise: echoed shell commands, optionally after a `$` prompt. Case-sensitive: commands are
// lowercase, and prose such as "Node is healthy" must survive.
const SHELL_COMMAND_LINE = /^(?:\$\s*)?(?:rg|sed|cat|ls|git|pnpm|npm|yarn|curl|node|python)(?:\s|$)/;

// R45 actionability: a blocker explicitly denied.
const NEGATED_BLOCKER = /\b(?:not blocked|no blockers?|unblocked)\b/i;
// R45 actionability: someone has to approve first.
const APPROVAL_REQUIRED = /\b(?:approval required|(?:requires?|needs?|waiting on)\b.{0,80}\bapproval|(?:pending|board|human|user|operator) approval)\b/i;
// R45: what an agent cannot give itself.
const CREDENTIAL_WORD = alternatives(['access', 'credentials?', 'secrets?', 'api key', 'token', 'password', 'login', 'account', 'permissions?', 'input', 'clarification']);
// R45 actionability: a stop or a need, followed within ~120 chars by a credential-type word.
const EXTERNAL_BLOCKER = new RegExp(
  `\\b(?:can['’]t proceed|cannot proceed|unable to proceed|waiting on|blocked (?:by|on)|needs?|requires?)\\b.{0,120}\\b${CREDENTIAL_WORD}\\b`,
  'i',
);
// R45 actionability: a generic blocker phrase; counts only together with a credential-type word anywhere.
const GENERIC_BLOCKER =
  /\b(?:blocked|can['’]t proceed|cannot proceed|unable to proceed|waiting on|(?:needs?|requires?)\b.{0,80}\b(?:approval|access|credentials?|secrets?|api key|token|input|clarification))\b/i;
const ANY_CREDENTIAL_WORD = new RegExp(`\\b${CREDENTIAL_WORD}\\b`, 'i');
// R45 actionability: work a manager or human must sign off (risky, irreversible or costly).
const MANAGER_REVIEW = new RegExp(
  `\\b(?:${[
    '(?:manager|human|manual|security) review',
    'escalat(?:e|ed|es|ing|ion)',
    'production deploy(?:ment)?',
    'deploy(?:ing)? to prod(?:uction)?',
    'prod deploy',
    'production access',
    'rotat(?:e|ing)\\b.{0,40}\\b(?:secrets?|keys?|tokens?)',
    'delet(?:e|ing)\\b.{0,40}\\bproduction',
    'security-sensitive',
    'credentialed operation',
    '(?:budget|cost|spend) approval',
  ].join('|')})\\b`,
  'i',
);
// R45 actionability: a tool or test command the agent can simply run.
const TOOL_COMMAND = alternatives(['pnpm', 'npm', 'npx', 'yarn', 'bun', 'vitest', 'jest', 'pytest', 'cargo', 'go test', 'curl', 'tests?', 'typecheck', 'build', 'lint']);
// R45 actionability: "run/rerun/execute <command>", or any action verb plus continue/write/verify/validate/report.
const RUNNABLE = new RegExp(
  `\\b(?:(?:run|rerun|execute)\\s+(?:the\\s+)?${TOOL_COMMAND}|${alternatives([...ACTION_VERBS, 'continue', 'write', 'verify', 'validate', 'report'])})\\b`,
  'i',
);

// R45 plan-exempt: deliverables that are themselves written planning or analysis.
const PLANNING_ARTIFACT = alternatives(['plans?', 'planning', 'analysis', 'investigation', 'research', 'reports?', 'proposals?', 'design docs?', 'write-?ups?']);
const PLANNING_TITLE = new RegExp(`\\b${PLANNING_ARTIFACT}\\b`, 'i');
// R45 plan-exempt: a description asking to produce such an artifact, within one sentence.
const PLANNING_REQUEST = new RegExp(`\\b(?:create|write|produce|draft|update|revise|prepare)\\b[^.\\n]{0,80}\\b${PLANNING_ARTIFACT}\\b`, 'i');

// ---------------------------------------------------------------------------------------------
// R44: text sources.

function nonEmpty(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : null;
}

function present(values: (string | null)[]): string[] {
  return values.filter((value): value is string => value !== null);
}

function isNoiseLine(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === '' || TRANSCRIPT_KEY_LINE.test(trimmed) || TRANSCRIPT_JSON_LINE.test(trimmed) || SHELL_COMMAND_LINE.test(trimmed);
}

function withoutNoise(text: string): string | null {
  return nonEmpty(text.split(/\r?\n/).filter((line) => !isNoiseLine(line)).map((line) => line.trim()).join('\n'));
}

/** R44 "final text" of resultJson, field by field. */
function finalTextParts(resultJson: Record<string, unknown> | null): string[] {
  if (!resultJson) return [];
  return present([resultJson.nextAction, resultJson.summary, resultJson.result, resultJson.message, resultJson.error].map(nonEmpty));
}

interface TextSources {
  comments: string[];
  finalText: string | null;
  continuationSummary: string | null;
  raw: string[]; // already without noise lines
}

function textSources(input: LivenessInput): TextSources {
  const finalText = finalTextParts(input.resultJson).join('\n');
  return {
    comments: present(input.recentComments.slice(-5).map(nonEmpty)),
    finalText: finalText === '' ? null : finalText,
    continuationSummary: nonEmpty(input.continuationSummary),
    raw: present(
      [input.resultJson?.stdout, input.resultJson?.stderr, input.stdoutExcerpt, input.stderrExcerpt, input.error]
        .map(nonEmpty)
        .map((text) => (text === null ? null : withoutNoise(text))),
    ),
  };
}

function highSignal(sources: TextSources): string[] {
  return present([...sources.comments, sources.finalText, sources.continuationSummary]);
}

function actionabilityText(sources: TextSources): string {
  const high = highSignal(sources);
  return (high.length > 0 ? high : sources.raw).join('\n');
}

// ---------------------------------------------------------------------------------------------
// R45: reading the text.

function undecorated(line: string): string {
  return line.trim().replace(LINE_DECORATION, '').trim();
}

/** R45: first-person intent to take an action, or a "Next …:"/"Plan:" line. */
export function looksPlanningOnly(text: string): boolean {
  return PLANNING_INTENT.test(text) || text.split(/\r?\n/).some((line) => LABELLED_LINE.test(undecorated(line)));
}

/** R45: the first "Next …:" line (or the non-noise line after a bare label), or planning-only sentence. */
function nextActionIn(text: string): string | null {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    if (isNoiseLine(lines[i])) continue;
    const line = undecorated(lines[i]);
    const labelled = LABELLED_LINE.exec(line);
    if (labelled && labelled[1].toLowerCase() !== 'plan') {
      const sameLine = undecorated(labelled[2]);
      if (sameLine !== '') return sameLine;
      const following = lines.slice(i + 1).find((candidate) => !isNoiseLine(candidate) && undecorated(candidate) !== '');
      return following === undefined ? null : undecorated(following);
    }
    const sentence = line.split(/(?<=[.!?])\s+/).find((candidate) => PLANNING_INTENT.test(candidate));
    if (sentence !== undefined) return sentence.trim();
  }
  return null;
}

function firstNextAction(texts: string[]): string | null {
  for (const text of texts) {
    const found = nextActionIn(text);
    if (found !== null) return found;
  }
  return null;
}

function nextActionFrom(sources: TextSources, structuredNextAction: string | null): string | null {
  const found =
    firstNextAction(sources.comments) ??
    structuredNextAction ??
    firstNextAction(present([sources.finalText, sources.continuationSummary])) ??
    firstNextAction(sources.raw);
  return found === null ? null : truncateReason(found);
}

/** R45: scan comments, resultJson.nextAction, final text, continuation summary, then raw text. */
export function extractNextAction(input: LivenessInput): string | null {
  return nextActionFrom(textSources(input), nonEmpty(input.resultJson?.nextAction));
}

/** R45: what kind of follow-up the text asks for; the checks run in this order. */
export function actionabilityOf(text: string): Actionability {
  if (text.trim() === '') return 'unknown';
  if (NEGATED_BLOCKER.test(text)) return RUNNABLE.test(text) ? 'runnable' : 'unknown';
  if (APPROVAL_REQUIRED.test(text)) return 'approval_required';
  if (EXTERNAL_BLOCKER.test(text) || (GENERIC_BLOCKER.test(text) && ANY_CREDENTIAL_WORD.test(text))) return 'blocked_external';
  if (MANAGER_REVIEW.test(text)) return 'manager_review';
  if (RUNNABLE.test(text)) return 'runnable';
  return 'unknown';
}

// ---------------------------------------------------------------------------------------------
// R43, R45: the classification.

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** R43: concrete evidence; workspace operations are setup, not progress. */
function concreteEvidenceParts(evidence: LivenessEvidence): string[] {
  const parts: string[] = [];
  if (evidence.issueComments > 0) parts.push(plural(evidence.issueComments, 'issue comment'));
  if (evidence.documentRevisions > 0) {
    const plans = evidence.planRevisions > 0 ? ` (${plural(evidence.planRevisions, 'plan revision')})` : '';
    parts.push(`${plural(evidence.documentRevisions, 'document revision')}${plans}`);
  }
  if (evidence.workProducts > 0) parts.push(plural(evidence.workProducts, 'work product'));
  if (evidence.activity > 0) parts.push(plural(evidence.activity, 'activity log entry', 'activity log entries'));
  if (evidence.toolEvents > 0) parts.push(plural(evidence.toolEvents, 'tool event'));
  return parts;
}

/** R45 step 6: planning-type issues, or a saved plan revision. */
function planExemptReason(input: LivenessInput): string | null {
  if (input.issue && (PLANNING_TITLE.test(input.issue.title) || PLANNING_REQUEST.test(input.issue.description ?? ''))) {
    return livenessReasons.planExemptIssue;
  }
  return input.evidence.planRevisions > 0 ? livenessReasons.planExemptRevision : null;
}

export function classifyRunLiveness(input: LivenessInput): LivenessClassification {
  const sources = textSources(input);
  const text = actionabilityText(sources);
  const actionability = actionabilityOf(text);
  const usefulOutput = highSignal(sources).length > 0 || sources.raw.length > 0;
  const evidenceParts = concreteEvidenceParts(input.evidence);
  const nextAction = nextActionFrom(sources, nonEmpty(input.resultJson?.nextAction));
  const issueStatus = input.issue?.status ?? null;

  const result = (livenessState: LivenessState, reason: string): LivenessClassification => ({
    livenessState,
    livenessReason: truncateReason(reason),
    nextAction,
    // R42, R43: only concrete evidence is a useful action, and only these states record it.
    lastUsefulActionAt:
      (livenessState === 'advanced' || livenessState === 'completed' || livenessState === 'blocked') && evidenceParts.length > 0
        ? input.evidence.lastEvidenceAt
        : null,
  });

  if (input.runStatus !== 'succeeded') return result('failed', livenessReasons.runEnded(input.runStatus, input.errorCode));
  if (issueStatus === 'done' || issueStatus === 'cancelled') return result('completed', livenessReasons.issueClosed(issueStatus));
  if (issueStatus === 'blocked') return result('blocked', livenessReasons.issueBlocked);
  if (actionability === 'approval_required') return result('blocked', livenessReasons.approvalRequired);
  if (actionability === 'blocked_external') return result('blocked', livenessReasons.externalBlocker);
  if (!usefulOutput && evidenceParts.length === 0) return result('empty_response', livenessReasons.noOutputNoEvidence);
  if (evidenceParts.length > 0) return result('advanced', livenessReasons.concreteEvidence(evidenceParts.join(', ')));
  const planExempt = planExemptReason(input);
  if (planExempt !== null && usefulOutput) return result('advanced', planExempt);
  if (looksPlanningOnly(text) || nextAction !== null) {
    if (actionability === 'runnable') return result('plan_only', livenessReasons.runnablePlan);
    return result('needs_followup', actionability === 'manager_review' ? livenessReasons.managerReviewPlan : livenessReasons.unclearPlan);
  }
  if (usefulOutput) return result('needs_followup', livenessReasons.outputWithoutEvidence);
  return result('empty_response', livenessReasons.noOutput);
}
