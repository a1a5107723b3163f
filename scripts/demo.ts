/**
 * `npm run demo` (with `npm start` running in another terminal): creates a demo company and four
 * agents, and shows one run of each outcome — succeeded, failed, timed out, cancelled — with its
 * link in Temporal UI. Reads the admin token from VIGIL_ADMIN_TOKEN or the data directory.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.ts';

const config = loadConfig();
const api = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}/api`;
const agentScript = (name: string) => fileURLToPath(new URL(`../test/fixtures/agents/${name}`, import.meta.url));

async function adminToken(): Promise<string> {
  if (config.adminToken) return config.adminToken;
  return (await readFile(path.join(config.dataDir, 'admin-token'), 'utf8')).trim();
}

async function main() {
  const token = await adminToken();
  const call = async (method: string, route: string, body?: unknown): Promise<any> => {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: any = await response.json();
    if (response.status >= 300) throw new Error(`${method} ${route} → ${response.status}: ${json.error}`);
    return json;
  };
  const prefix = `DEMO${randomBytes(2).toString('hex').toUpperCase()}`;
  const company = await call('POST', '/companies', { name: `Demo ${prefix}`, issuePrefix: prefix });
  const agent = (name: string, script: string, extra: object = {}) =>
    call('POST', `/companies/${company.id}/agents`, { name, role: 'engineer', adapterType: 'process', adapterConfig: { command: agentScript(script), ...extra } });
  const cases = [
    { title: 'A run that succeeds', agent: await agent('Finisher', 'succeed.sh') },
    { title: 'A run that fails', agent: await agent('Crasher', 'fail.sh') },
    { title: 'A run that times out', agent: await agent('Dawdler', 'stubborn.sh', { timeoutSec: 2, graceSec: 1 }) },
    { title: 'A run that is cancelled', agent: await agent('Sleeper', 'sleep.sh', { graceSec: 1 }) },
  ];
  const issues = [];
  for (const c of cases) issues.push(await call('POST', `/companies/${company.id}/issues`, { title: c.title, status: 'todo', assigneeAgentId: c.agent.id }));

  const runOf = async (issueId: string) => {
    for (;;) {
      const [run] = await call('GET', `/issues/${issueId}/runs`);
      if (run) return run;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const sleeperRun = await runOf(issues[3].id);
  while ((await call('GET', `/heartbeat-runs/${sleeperRun.id}`)).processPid === null) await new Promise((r) => setTimeout(r, 200));
  await call('POST', `/heartbeat-runs/${sleeperRun.id}/cancel`);

  console.log(`\nCompany ${company.name} (${company.id})\n`);
  for (const issue of issues) {
    let run = await runOf(issue.id);
    while (['queued', 'running'].includes(run.status)) {
      await new Promise((r) => setTimeout(r, 300));
      run = await call('GET', `/heartbeat-runs/${run.id}`);
    }
    console.log(`${issue.identifier}  ${issue.title.padEnd(26)} → ${run.status.padEnd(9)} ${run.errorCode ?? ''}`);
    console.log(`        ${run.temporalUiUrl ?? run.workflowId}`);
  }
  console.log(`\nIn Temporal UI, filter with:  VigilCompanyId = "${company.id}"`);
}

main().catch((error) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error(`Is Vigil running (npm start) and answering on ${api}?`);
  process.exit(1);
});
