/**
 * Issue documents (`plan`, …): every PUT writes a new revision attributed to its author and, for
 * agents, to the run (`createdByRunId`) — which is how a plan update counts as progress (R43, R47).
 */
import type { PrismaClient } from './db.ts';

export async function putIssueDocument(
  prisma: PrismaClient,
  input: {
    issue: { id: string; companyId: string };
    key: string;
    title?: string | null;
    format?: string;
    body: string;
    agentId: string | null;
    userId: string | null;
    runId: string | null;
  },
) {
  return prisma.$transaction(async (tx) => {
    const { issue } = input;
    const link = await tx.issueDocument.findUnique({
      where: { companyId_issueId_key: { companyId: issue.companyId, issueId: issue.id, key: input.key } },
      include: { document: true },
    });
    const revisionNumber = link ? link.document.latestRevisionNumber + 1 : 1;
    const document = link
      ? link.document
      : await tx.document.create({
          data: {
            companyId: issue.companyId,
            title: input.title ?? null,
            format: input.format ?? 'markdown',
            latestBody: input.body,
            latestRevisionNumber: 1,
            createdByAgentId: input.agentId,
            createdByUserId: input.userId,
          },
        });
    if (!link) {
      await tx.issueDocument.create({ data: { companyId: issue.companyId, issueId: issue.id, documentId: document.id, key: input.key } });
    }
    const revision = await tx.documentRevision.create({
      data: {
        companyId: issue.companyId,
        documentId: document.id,
        revisionNumber,
        title: input.title ?? document.title,
        format: input.format ?? document.format,
        body: input.body,
        createdByAgentId: input.agentId,
        createdByUserId: input.userId,
        createdByRunId: input.runId,
      },
    });
    const updated = await tx.document.update({
      where: { id: document.id },
      data: {
        title: input.title !== undefined ? input.title : document.title,
        format: input.format ?? document.format,
        latestBody: input.body,
        latestRevisionId: revision.id,
        latestRevisionNumber: revisionNumber,
        updatedByAgentId: input.agentId,
        updatedByUserId: input.userId,
      },
    });
    return { ...updated, key: input.key, issueId: issue.id, body: updated.latestBody, revisionNumber };
  });
}
