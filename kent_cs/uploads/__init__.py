"""Checked reading of uploaded files. Every import in the product goes through here.

The modules: `files` (size limit, type by content), `text` (decoding, `read_text`, CSV),
`xlsx` (archive limits, worksheets), `tables` (header and columns, `read_table`),
`cells` (`parse_rows` and the cell helpers), `results` (rows, tables, `UploadRefused`),
`fields` (form fields).

A file is read within a size limit, its type is decided by its content (never by its
name), and it is parsed into a `Table` whose rows carry the line numbers users see in
their file. Callers then turn rows into records with `parse_rows`, which collects every
line's problem before anything is written: an import is taken whole or refused whole,
with each line and reason.

    table = read_table(
        upload,
        required_columns=("account_number", "amount"),
        column_aliases={"account_number": ("Acct No", "Account #")},
    )
    payments = parse_rows(table, lambda row: Payment(
        account_number=cell_text(row, "account_number", max_length=20),
        amount=cell_money(row, "amount"),
    ))
    # ... then write `payments` in one transaction.

Files that are not tables (BAI2, OFX, camt.053 bank statements) come through
`read_text`, which makes the same size and content checks and returns decoded text.
"""
