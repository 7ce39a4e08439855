-- The channel comparison across campaigns reads dispatched outreach by time of dispatch.
CREATE INDEX outreach_by_dispatch ON outreach (dispatched_at) WHERE dispatched_at IS NOT NULL;
