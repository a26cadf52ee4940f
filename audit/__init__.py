"""Supervision: audit reports, the exceptions dashboard, the tamper-evidence check,
scheduled reports for other city areas and staff training. It reads every other app
(through their selectors) and is read by none."""
