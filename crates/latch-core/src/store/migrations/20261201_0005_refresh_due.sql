-- When a connection's own rule says its access token is due for renewal
-- (a spec's `refresh.condition`, evaluated against its data). Empty for
-- connections whose due time follows from the expiry (refresh_policy).
ALTER TABLE connections ADD COLUMN refresh_due_at TEXT;
