"""Licensing reports, one module per report family: new licenses by month, active
licenses, revenue by license type and by NAICS sector, renewals outstanding and
delinquency; their tables as CSV and XLSX, and the growth workbook with a chart on
each sheet.

Every query reads from `reports_db()` (a replica when one is configured) and groups in
SQL, so a report costs the same few queries whatever the number of licenses or years.

Definitions, as the pages state them:
- A *new license* is counted in the month it was first issued (`License.issued_on`).
- A license is *active at a year end* when the last status change in effect on Dec 31
  left it active and good for that year; *active now* is the license's current status.
- *Revenue* is on a cash basis: license payments received, by the receipt's business
  date, with voids and reversals netted on their own dates. Renewals paid in December
  for the next license year count in the year the money came in.
- *Renewals outstanding* are a license year's renewal invoices still open (part-paid
  ones included); *delinquent* ones are open past their due date.

Modules:
- common: months, sectors, report parameters and shared table columns.
- growth: new licenses by month, active licenses at each year end.
- revenue: revenue by license type and by NAICS sector.
- renewals: renewals outstanding and delinquency, and their invoice sheets.
- downloads: CSV/XLSX tables of each report and the growth workbook.
"""
