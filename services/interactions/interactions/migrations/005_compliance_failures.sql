-- A queued check the job could not carry out (a touchpoint it cannot evaluate): checked, with
-- the reason, so it is neither tried again on every round nor stops the checks after it.
ALTER TABLE compliance_checks ADD COLUMN failed_reason text;
