"""The general ledger: funds, GL accounts, fee codes and their distribution, accounting
periods, journal entries and their posting and reversal; the chart of accounts, account
pages and trial balance; bank accounts, statement files (bankfiles/), statement import and
reconciliation. It builds on kent_cs only."""
