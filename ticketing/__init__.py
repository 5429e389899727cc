"""The complaint domain: tickets, statuses, numbers, referrals, audit; no Flask, no HTTP."""
