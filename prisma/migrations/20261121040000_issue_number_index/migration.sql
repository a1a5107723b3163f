-- Allocating an issue's PREFIX-N reads the company's highest issue number (recovery issues are
-- created by sweeps, many at a time): an index keeps that a lookup instead of a scan.
CREATE INDEX "issues_company_id_issue_number_idx" ON "issues"("company_id", "issue_number");
