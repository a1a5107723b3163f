/**
 * Issue trees (issues nest through `parentId`): how far a walk over one goes. Pure, so any layer
 * may import it.
 */

/**
 * Levels a recursive walk over an issue tree follows: up from an issue to the pause hold that
 * covers it (R66, in the claim and enqueue gates and the stranded sweep's `held`, R48) and down
 * from a hold's root to snapshot its members. Nothing limits a tree's depth on write (the issues
 * store only refuses a parent that would close a loop), so this is a guard against a runaway
 * query, not a product limit: far deeper than any real breakdown of work, and still a cheap walk.
 * One bound for every walk, so the sweep and the gates never disagree on whether an issue is held.
 */
export const MAX_ISSUE_TREE_DEPTH = 1024;
