-- DORA lead time: a commit is released by the first successful production deployment at or
-- after the moment it reached the default branch (its PR's merge push, or its direct push),
-- whose sha is that commit or a descendant. A commit's authored/committed time says nothing
-- about when it reached the branch (a PR's commits keep their authoring time), so the push
-- time is stored: the earliest push to the default branch that carried the commit.
ALTER TABLE commits ADD COLUMN default_branch_pushed_at timestamptz;
-- Merge commits (is_merge) are not changes: the lead-time explain counts them apart.
CREATE INDEX commits_merge_time_idx ON commits (installation_id, committed_at) WHERE is_merge;
