"""The shared core of Kent Customer Services: settings and URLs, roles, the audit
context, money, gapless numbering, database helpers (prepared cursors), sessions and
sign-in throttling, uploads, report files, background jobs, navigation, the home
dashboard, the activity page and /healthz. It imports no other app of the project."""
