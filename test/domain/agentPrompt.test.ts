/** The prompt a coding-agent CLI receives: one template, named placeholders, resume notes. */
import { describe, expect, it } from 'vitest';
import { renderAgentPrompt, resumeNoteFor, unknownPlaceholders, type AgentPromptFacts } from '../../src/domain/agentPrompt.ts';

const facts = (overrides: Partial<AgentPromptFacts> = {}): AgentPromptFacts => ({
  agent: { name: 'Builder', role: 'engineer' },
  issue: { id: '7f1c', identifier: 'PAP-12', title: 'Fix the flaky test', description: 'It fails one run in ten.' },
  wake: { reason: 'issue_assigned', payload: { issueId: '7f1c', _paperclipWakeContext: { secret: 'x' } } },
  resumes: null,
  api: { url: 'http://127.0.0.1:3100/api' },
  ...overrides,
});

describe('the default prompt', () => {
  it("names the agent, the issue, the wake and how to act through Vigil's API", () => {
    const prompt = renderAgentPrompt(facts());
    expect(prompt).toContain('You are Builder, an AI agent with the role "engineer"');
    expect(prompt).toContain('Issue PAP-12: Fix the flaky test');
    expect(prompt).toContain('It fails one run in ten.');
    expect(prompt).toContain('Why you were woken: issue_assigned');
    expect(prompt).toContain('POST http://127.0.0.1:3100/api/issues/7f1c/comments');
    expect(prompt).toContain('PUT http://127.0.0.1:3100/api/issues/7f1c/documents/<key>');
    expect(prompt).toContain('$VIGIL_API_KEY');
  });

  it('shows the wake payload without the internal keys', () => {
    const prompt = renderAgentPrompt(facts());
    expect(prompt).toContain('Wake details: {"issueId":"7f1c"}');
    expect(prompt).not.toContain('_paperclipWakeContext');
  });

  it('says when the run resumes earlier work, and stays silent for fresh work', () => {
    expect(resumeNoteFor('issue_assigned')).toBeNull();
    const note = resumeNoteFor('process_lost_retry')!;
    expect(note).toMatch(/interrupted/);
    expect(renderAgentPrompt(facts({ wake: { reason: 'process_lost_retry', payload: {} }, resumes: note }))).toContain(note);
  });

  it('works without an issue and leaves no runs of blank lines', () => {
    const prompt = renderAgentPrompt(facts({ issue: null, wake: { reason: 'heartbeat_timer', payload: {} } }));
    expect(prompt).toContain('(no issue: this run is not bound to an issue)');
    expect(prompt).not.toMatch(/\n{3,}/);
  });
});

describe("an agent's own template", () => {
  it('fills the same placeholders', () => {
    expect(renderAgentPrompt(facts(), 'Do {{issue.identifier}} ({{ issue.title }}) as {{agent.name}}.')).toBe('Do PAP-12 (Fix the flaky test) as Builder.\n');
  });

  it('names the placeholders Vigil does not know, so the API can refuse them', () => {
    expect(unknownPlaceholders('{{issue.title}} {{issue.owner}} {{nope}}')).toEqual(['issue.owner', 'nope']);
    expect(unknownPlaceholders('plain text, {single} braces')).toEqual([]);
  });
});
