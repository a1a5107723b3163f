/**
 * The prompt a coding-agent CLI (`claude_local`, `codex_local`) receives on stdin: who it is, what
 * issue it works on, why it was woken, whether it resumes earlier work, and how to act through
 * Vigil's API. One default template; an agent may replace it with `adapterConfig.promptTemplate`,
 * using the same named placeholders (`{{issue.title}}`). Pure: the activity gathers the facts.
 */

/** What a prompt may say, by placeholder name. */
export interface AgentPromptFacts {
  agent: { name: string; role: string };
  issue: { id: string; identifier: string | null; title: string; description: string | null } | null;
  wake: { reason: string; payload: Record<string, unknown> };
  /** Why this run continues earlier work (a retry, a continuation), or null for a fresh start. */
  resumes: string | null;
  api: { url: string };
}

/** Every placeholder a template may use; any other `{{name}}` is refused when the agent is saved. */
export const PROMPT_PLACEHOLDERS = [
  'agent.name',
  'agent.role',
  'issue.id',
  'issue.identifier',
  'issue.title',
  'issue.description',
  'wake.reason',
  'wake.payload',
  'run.resumes',
  'api.url',
  'api.commentsPath',
  'api.documentsPath',
] as const;
export type PromptPlaceholder = (typeof PROMPT_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{\{\s*([a-zA-Z.]+)\s*\}\}/g;

export const DEFAULT_PROMPT_TEMPLATE = `You are {{agent.name}}, an AI agent with the role "{{agent.role}}", woken by Vigil to work on an issue.

Issue {{issue.identifier}}: {{issue.title}}

{{issue.description}}

Why you were woken: {{wake.reason}}
{{wake.payload}}
{{run.resumes}}

Work on the issue in the current directory. Act through Vigil's API at {{api.url}}: authenticate
every request with the header "Authorization: Bearer $VIGIL_API_KEY" (the key is in your
environment; it is valid for this run only). Post what you did, or why you are stuck, as a
comment: POST {{api.commentsPath}} with {"body": "..."}. Keep longer notes as documents:
PUT {{api.documentsPath}}/<key> with {"body": "..."}. Send every such write (and any issue you
create, wake or cost you record) with the header "Idempotency-Key: $VIGIL_IDEMPOTENCY_PREFIX:<step>",
where <step> names that one write and stays the same if you are run again for the same work (e.g.
"comment:final", "doc:plan:1"): a retried or continued run gets the same prefix, so a write its
predecessor already made is answered again instead of made twice. Use a new <step> for a new write.
End with a short summary of the outcome.
`;

/** Wake reasons (and retry reasons) that mean this run picks up earlier work on the same task. */
const RESUME_REASONS: Record<string, string> = {
  process_lost_retry: 'Your previous run on this issue was interrupted (its process was lost). Continue where it stopped.',
  transient_failure_retry: "Your previous run on this issue failed because the model provider was unavailable. Continue where it stopped.",
  issue_continuation_needed: 'Your previous run on this issue ended before the work was done. Continue it.',
  issue_assignment_recovery: 'An earlier attempt to start this issue failed. Start it again.',
  run_liveness_continuation: 'Your previous run only described what it would do. Now do it: make the changes and report them.',
  provider_quota_retry: "Your previous run hit the model provider's usage limit, which has now reset. Continue where it stopped.",
  missing_issue_comment: 'Your previous run on this issue left no comment. Post a comment saying what you did or why you are stuck.',
};

/** The sentence saying this run resumes earlier work, from its wake reason; null for fresh work. */
export function resumeNoteFor(wakeReason: string): string | null {
  return RESUME_REASONS[wakeReason] ?? null;
}

/** The placeholders of a template that Vigil does not know (empty when the template is usable). */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(PROMPT_PLACEHOLDERS);
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]).filter((name) => !known.has(name));
}

function valuesOf(facts: AgentPromptFacts): Record<PromptPlaceholder, string> {
  const issuePath = facts.issue ? `${facts.api.url}/issues/${facts.issue.id}` : null;
  const payload = Object.fromEntries(Object.entries(facts.wake.payload).filter(([key]) => !key.startsWith('_')));
  return {
    'agent.name': facts.agent.name,
    'agent.role': facts.agent.role,
    'issue.id': facts.issue?.id ?? '',
    'issue.identifier': facts.issue?.identifier ?? facts.issue?.id ?? '(none)',
    'issue.title': facts.issue?.title ?? '(no issue: this run is not bound to an issue)',
    'issue.description': facts.issue?.description?.trim() || '',
    'wake.reason': facts.wake.reason,
    'wake.payload': Object.keys(payload).length > 0 ? `Wake details: ${JSON.stringify(payload)}` : '',
    'run.resumes': facts.resumes ?? '',
    'api.url': facts.api.url,
    'api.commentsPath': issuePath ? `${issuePath}/comments` : '(no issue)',
    'api.documentsPath': issuePath ? `${issuePath}/documents` : '(no issue)',
  };
}

/** The prompt for one run: the agent's template (or the default) with every placeholder filled. */
export function renderAgentPrompt(facts: AgentPromptFacts, template: string | null = null): string {
  const values = valuesOf(facts);
  const rendered = (template ?? DEFAULT_PROMPT_TEMPLATE).replace(PLACEHOLDER, (whole, name: string) =>
    name in values ? values[name as PromptPlaceholder] : whole,
  );
  // Empty placeholders leave blank lines behind: keep at most one in a row.
  return rendered.replace(/\n{3,}/g, '\n\n').trim() + '\n';
}
