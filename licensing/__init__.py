"""Business licensing: businesses and their contacts, license types and fee schedules,
applications with department reviews, licenses and their status history, invoices and
late penalties, yearly renewal runs and notices, certificates, imports of existing
records and the licensing reports.

Writes are in `services/` (one module per entity), reads in `selectors/`, report files in
`reports/`. Invoices are paid at the counter as a cashiering payment target: licensing
reaches cashiering only through `cashiering.targets`, and ledger only for fee codes."""
