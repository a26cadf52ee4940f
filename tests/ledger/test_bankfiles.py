"""Bank statement files: the real files banks and parser projects publish are read to the
cent or refused for the reason a technician can act on, and damaged, cut-short, hostile
or mis-totalled files are refused with their lines."""

import io
import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kent_cs.uploads.results import UploadRefused
from ledger.bankfiles import (
    MAX_STATEMENT_BYTES,
    CsvMapping,
    ParsedFile,
    bai2_sample,
    parse_statement_file,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bank"


# --- Fixture helpers -----------------------------------------------------------------


def fixture(name: str) -> bytes:
    folder = {"bai2": "bai2", "xml": "camt053", "ofx": "ofx"}[name.rsplit(".", 1)[1]]
    return (FIXTURES / folder / name).read_bytes()


def refusal(data: bytes, **kwargs) -> list[str]:
    with pytest.raises(UploadRefused) as caught:
        parse_statement_file(data, **kwargs)
    return caught.value.messages


def discrepancies(data: bytes, **kwargs) -> list[str]:
    """The discrepancies of a file that reads, as a person sees them."""
    return [str(item) for item in parse_statement_file(data, **kwargs).discrepancies]


def bai2_file(body: list[str], total: int, *, currency: str = "USD") -> bytes:
    """A BAI2 file of one group and one account: `body` is the 03 record and what follows
    it up to (not including) the 49, `total` the account's control total."""
    records = len(body) + 1
    lines = [
        "01,SENDER,RECEIVER,240302,0600,FILE7,,,2/",
        f"02,RECEIVER,SENDER,1,240301,2400,{currency},2/",
        *body,
        f"49,{total},{records}/",
        f"98,{total},1,{records + 2}/",
        f"99,{total},1,{records + 4}/",
    ]
    return ("\n".join(lines) + "\n").encode()


def lines_by_number(parsed: ParsedFile) -> dict:
    return {line.line: line for statement in parsed.statements for line in statement.lines}


# --- Real BAI2 files -------------------------------------------------------------------


def test_citi_bai2_in_pounds_with_88_text_continuations():
    parsed = parse_statement_file(fixture("mojbai2__citi_example.bai2"))

    assert parsed.format == "bai2"
    assert parsed.file_id == "00131100"
    assert parsed.created == datetime(2015, 7, 16, 7, 13)
    assert parsed.record_count == 14
    assert len(parsed.statements) == 1
    assert parsed.transaction_count == 1
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("0.01"), Decimal("0.00"))
    (statement,) = parsed.statements
    assert (statement.line, statement.account_number, statement.currency) == (3, "77777777", "GBP")
    assert (statement.start, statement.end) == (date(2015, 7, 15), date(2015, 7, 15))
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("100.00"),
        Decimal("100.00"),
    )
    (line,) = statement.lines
    assert line.line == 4
    assert line.amount == Decimal("0.01")
    assert line.type_code == "191"
    assert line.booked == date(2015, 7, 15)
    assert line.value_date == date(2015, 7, 15)  # funds type V
    assert (line.bank_ref, line.customer_ref) == ("1234567890", "RP12312312312312")
    assert line.description.startswith("FR:FP SIP INCOMING ENDT:20150715 TRID:RP12312312312312")
    assert "A1234BC 22/03/66 BI:22222222" in line.description  # slashes in text are kept
    assert line.description.endswith("OB3:BARCLAYS BANK PLC BO:11111111 BO1:DOE JO")
    assert not line.is_returned_item


def test_svb_bai2_with_continued_summaries_and_two_days():
    parsed = parse_statement_file(fixture("mojbai2__svb_us_example.bai2"))

    assert parsed.file_id == "1"
    assert parsed.record_count == 20
    assert [s.start for s in parsed.statements] == [date(2022, 2, 1), date(2022, 2, 2)]
    assert parsed.transaction_count == 2
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("13959.96"), Decimal("0.00"))
    first, second = parsed.statements
    assert first.account_number == second.account_number == "1234567890"
    assert first.statement_id != second.statement_id
    assert (first.opening_balance, first.closing_balance) == (
        Decimal("347269.79"),
        Decimal("352171.75"),
    )
    assert (second.opening_balance, second.closing_balance) == (
        Decimal("352171.75"),
        Decimal("361229.75"),
    )
    line = first.lines[0]
    assert (line.line, line.amount, line.type_code) == (7, Decimal("4901.96"), "142")
    assert (line.bank_ref, line.customer_ref) == ("172629", "")
    assert line.description == "SOME PAYMENT ACH OFFSET"
    assert line.value_date is None
    assert second.lines[0].amount == Decimal("9058.00")


def test_moov_sample1_bai2_in_canadian_dollars():
    parsed = parse_statement_file(fixture("moov__sample1.bai2"))

    assert parsed.file_id == "001"
    assert len(parsed.statements) == 2
    assert parsed.transaction_count == 17
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("3200.00"), Decimal("3200.00"))
    first, second = parsed.statements
    assert (first.currency, len(first.lines), len(second.lines)) == ("CAD", 11, 6)
    # Only opening and closing available balances (040/045): no ledger balances.
    assert first.opening_balance is None and first.closing_balance is None
    lines = lines_by_number(parsed)
    returned_cheque = lines[5]
    assert returned_cheque.amount == Decimal("-25.00")
    assert returned_cheque.type_code == "409"
    assert returned_cheque.description == "RETURNED CHEQUE"  # trailing spaces and / dropped
    assert returned_cheque.value_date == date(2006, 3, 16)
    assert returned_cheque.booked == date(2006, 3, 17)
    # 409 is "any debit": no code says returned, but its wording does.
    assert returned_cheque.is_returned_item
    assert (lines[19].amount, lines[19].type_code, lines[19].description) == (
        Decimal("115.00"),
        "108",
        "TFR 1020 0345678",
    )


def test_moov_sample2_bai2_with_lockbox_distribution_and_split_summaries():
    parsed = parse_statement_file(fixture("moov__sample2.bai2"))

    assert parsed.record_count == 31
    assert [s.account_number for s in parsed.statements] == [
        "0123456789",
        "9876543210",
        "4589761203",
        "0975312468",
        "7890654321",
    ]
    assert all(s.currency == "USD" for s in parsed.statements)  # blank currency: USD
    assert parsed.transaction_count == 4
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("309500.00"), Decimal("0.00"))
    # 03 continued by an 88 that starts with the amount of the 03's last type code.
    assert parsed.statements[1].opening_balance == Decimal("-5000.00")
    assert parsed.statements[0].opening_balance == Decimal("43500.00")
    lines = lines_by_number(parsed)
    lockbox = lines[10]  # funds type S with a blank first amount, text after two blanks
    assert (lockbox.amount, lockbox.type_code) == (Decimal("5000.00"), "115")
    assert lockbox.description == "LOCK BOX NO.68751"
    letter_of_credit = lines[16]
    assert letter_of_credit.amount == Decimal("200000.00")
    assert letter_of_credit.type_code == "218"
    assert letter_of_credit.value_date == date(2004, 6, 22)
    assert (letter_of_credit.bank_ref, letter_of_credit.customer_ref) == ("SP4738", "YRC065321")
    assert letter_of_credit.description == "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO"
    assert lines[18].amount == Decimal("100000.00")


# --- Real camt.053 files ---------------------------------------------------------------


def test_camt053_v2_with_two_statements():
    parsed = parse_statement_file(fixture("genkgo__camt053.v2.multi.statement.xml"))

    assert parsed.format == "camt053"
    assert parsed.file_id == "CAMT053RIB000000000001"
    assert parsed.created == datetime.fromisoformat("2015-03-10T18:43:50+00:00")
    assert len(parsed.statements) == 2
    assert parsed.transaction_count == 2
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("8.85"), Decimal("7.00"))
    first, second = parsed.statements
    assert (first.line, first.statement_id, first.account_number, first.currency) == (
        26,
        "253EURNL26VAYB8060476890",
        "NL26VAYB8060476890",
        "EUR",
    )
    assert (first.opening_balance, first.closing_balance) == (Decimal("18.15"), Decimal("27.00"))
    assert (first.start, first.end) == (date(2007, 10, 18), date(2007, 10, 18))  # FrToDt
    assert (second.opening_balance, second.closing_balance) == (
        Decimal("27.00"),
        Decimal("20.00"),
    )
    assert (second.start, second.end) == (date(2014, 12, 31), date(2014, 12, 31))
    credit, debit = first.lines[0], second.lines[0]
    assert (credit.line, credit.amount, credit.type_code) == (66, Decimal("8.85"), "544")
    assert (credit.booked, credit.value_date) == (date(2014, 12, 31), date(2015, 1, 2))
    assert credit.customer_ref == "000000001"
    assert credit.description == "Transaction Description 1"
    assert (debit.line, debit.amount, debit.customer_ref) == (145, Decimal("-7.00"), "000000002")
    assert not debit.is_returned_item


def test_camt053_v8_with_balances_in_other_currencies_is_refused():
    assert refusal(fixture("genkgo__camt053.v8.xml")) == [
        "Line 74: The CLBD balance is in SEK on an account kept in EUR.",
        "Line 86: The OPAV balance is in CHF on an account kept in EUR.",
        "Line 98: The CLAV balance is in JPY on an account kept in EUR.",
    ]


def test_camt053_v8_entry_fields_once_its_balances_agree():
    data = fixture("genkgo__camt053.v8.xml").decode()
    for foreign in ('"SEK">27.00', '"CHF"', '"JPY">2700'):
        data = data.replace(foreign, '"EUR">27.00' if "27" in foreign else '"EUR"')
    data = data.replace(
        '<Amt Ccy="EUR">27.00</Amt>\n                <CdtDbtInd>DBIT',
        ('<Amt Ccy="EUR">27.00</Amt>\n                <CdtDbtInd>CRDT'),
        1,
    )
    parsed = parse_statement_file(data.encode())
    (line,) = parsed.statements[0].lines
    assert parsed.statements[0].account_number == "NL26VAYB8060476890"  # Acct/Id/Othr/Id
    assert (line.line, line.amount, line.type_code) == (110, Decimal("8.85"), "PMNT/RCDT/BOOK")
    assert line.booked == date(2014, 12, 31)  # from BookgDt/DtTm, as written
    assert line.bank_ref == "AAAASESS-FP-CN_98765/01"
    assert line.customer_ref == "MUELL/FINP/RA12345"


def test_camt053_entry_in_another_currency_is_refused():
    data = fixture("genkgo__camt053.v2.multi.statement.xml").replace(
        b'<Amt Ccy="EUR">7.00</Amt>', b'<Amt Ccy="CHF">7.00</Amt>'
    )
    assert refusal(data) == ["Line 145: The entry is in CHF on an account kept in EUR."]


def test_camt053_balances_that_do_not_add_up_are_read_with_the_discrepancy():
    data = fixture("genkgo__camt053.v2.multi.statement.xml").replace(
        b'<Amt Ccy="EUR">20.00</Amt>', b'<Amt Ccy="EUR">21.00</Amt>'
    )
    parsed = parse_statement_file(data)
    assert len(parsed.statements) == 2  # read whole, both statements
    (item,) = parsed.discrepancies
    assert str(item) == (
        "Line 112: Statement 254EURNL26VAYB8060476890: the opening balance 27.00 plus "
        "credits 0.00 minus debits 7.00 is 20.00, but the closing balance is 21.00."
    )
    assert (item.kind, item.expected, item.found, item.difference, item.amount) == (
        "balance",
        "21.00",
        "20.00",
        "-1.00",
        Decimal("-1.00"),
    )
    assert item.statements == (1,)  # the second statement only
    assert parsed.statements[1].closing_balance == Decimal("21.00")


def test_camt053_that_adds_up_has_no_discrepancy():
    parsed = parse_statement_file(fixture("genkgo__camt053.v2.multi.statement.xml"))
    assert parsed.discrepancies == ()


def test_camt053_transaction_summary_is_checked():
    summary = (
        b"<TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries><Sum>9.85</Sum></TtlNtries>"
        b"</TxsSummry>\n            <Ntry>"
    )
    data = fixture("genkgo__camt053.v2.multi.statement.xml").replace(b"<Ntry>", summary, 1)
    assert discrepancies(data) == [
        "Line 66: The transaction summary counts 2 entries, but the statement has 1.",
        "Line 66: The transaction summary gives 9.85 as the sum of the entries, but they "
        "add up to 8.85.",
    ]
    garbled = data.replace(b"<Sum>9.85</Sum>", b"<Sum>9,8.5</Sum>")
    assert refusal(garbled) == [
        'Line 66: The summary sum "9,8.5" is not a number.',
        "Line 66: The transaction summary counts 2 entries, but the statement has 1.",
    ]


def test_camt053_unreadable_entry_is_refused_even_when_balances_also_disagree():
    data = (
        fixture("genkgo__camt053.v2.multi.statement.xml")
        .replace(b'<Amt Ccy="EUR">20.00</Amt>', b'<Amt Ccy="EUR">21.00</Amt>')
        .replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>XXXX</CdtDbtInd>", 1)
    )
    messages = refusal(data)
    assert any("no credit/debit indicator" in message for message in messages)


def test_camt053_reversed_credit_is_a_returned_item_and_cents_are_checked():
    base = fixture("genkgo__camt053.v2.multi.statement.xml")
    reversed_credit = base.replace(
        b"<CdtDbtInd>DBIT</CdtDbtInd>\n                <RvslInd>false",
        b"<CdtDbtInd>DBIT</CdtDbtInd>\n                <RvslInd>true",
    )
    parsed = parse_statement_file(reversed_credit)
    assert parsed.statements[1].lines[0].is_returned_item
    assert not parsed.statements[0].lines[0].is_returned_item

    three_places = base.replace(b'"EUR">8.85<', b'"EUR">8.855<')
    assert refusal(three_places)[0] == (
        'Line 67: The entry amount "8.855" has more than 2 decimal places, the most EUR '
        "amounts have."
    )


# --- Real OFX files --------------------------------------------------------------------


def test_ofx_checking_statement():
    parsed = parse_statement_file(fixture("ofxparse__checking.ofx"))

    assert parsed.format == "ofx"
    assert parsed.file_id == ""  # NEWFILEUID:NONE
    assert parsed.created == datetime.fromisoformat("2013-05-25T22:57:31.258+00:00")
    assert parsed.record_count == 83
    assert parsed.transaction_count == 3
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("0.01"), Decimal("59.51"))
    (statement,) = parsed.statements
    assert (statement.account_number, statement.currency) == ("1452687~7", "USD")
    assert (statement.start, statement.end) == (date(2000, 1, 1), date(2013, 5, 25))
    assert (statement.opening_balance, statement.closing_balance) == (None, Decimal("100.99"))
    dividend, withdrawal, fee = statement.lines
    assert (dividend.line, dividend.amount, dividend.type_code) == (46, Decimal("0.01"), "CREDIT")
    assert dividend.booked == date(2011, 3, 31)
    assert dividend.bank_ref == "0000486"
    assert dividend.description == (
        "DIVIDEND EARNED FOR PERIOD OF 03/01/2011 THROUGH 03/31/2011 ANNUAL PERCENTAGE "
        "YIELD EARNED IS 0.05%"
    )
    assert (withdrawal.amount, withdrawal.type_code) == (Decimal("-34.51"), "DEBIT")
    assert (fee.line, fee.amount, fee.type_code) == (62, Decimal("-25.00"), "CHECK")
    assert (fee.bank_ref, fee.customer_ref) == ("0000488", "319")
    assert fee.description.startswith("RETURNED CHECK FEE, CHECK # 319 FOR $45.33")
    assert not fee.is_returned_item  # the bank's fee for a return, not the returned check


def test_ofx_one_line_sgml_statement_in_canadian_dollars():
    parsed = parse_statement_file(fixture("ofxparse__bank_medium.ofx"))

    (statement,) = parsed.statements
    assert (statement.account_number, statement.currency) == ("12300 000012345678", "CAD")
    assert (statement.start, statement.end) == (date(2009, 4, 1), date(2009, 5, 23))
    assert statement.closing_balance == Decimal("382.34")
    assert parsed.transaction_count == 3
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("0.00"), Decimal("345.27"))
    pos, check, _ = statement.lines
    assert (pos.line, pos.amount, pos.type_code) == (15, Decimal("-6.60"), "POS")
    assert pos.booked == date(2009, 4, 1)  # the date as written, not moved by [-5:EST]
    assert pos.description == "POS MERCHANDISE;MCDONALD'S #112"
    assert (check.amount, check.customer_ref, check.bank_ref) == (
        Decimal("-316.67"),
        "0",
        "0000123456782009040200004",
    )


OFX2 = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="K-2024-0301"?>
<OFX>
  <SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
    <DTSERVER>20240302060000.000[-8:PST]</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS>
  </SIGNONMSGSRSV1>
  <BANKMSGSRSV1>
    <STMTTRNRS>
      <TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
      <STMTRS>
        <CURDEF>USD</CURDEF>
        <BANKACCTFROM><BANKID>125000024</BANKID><ACCTID>4455667788</ACCTID>
          <ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>
        <BANKTRANLIST>
          <DTSTART>20240301</DTSTART><DTEND>20240301235959</DTEND>
          <STMTTRN>
            <TRNTYPE>DEP</TRNTYPE><DTPOSTED>20240301120000</DTPOSTED>
            <TRNAMT>1520.75</TRNAMT><FITID>D-1</FITID><REFNUM>DEP 0001</REFNUM>
            <NAME>COUNTER DEPOSIT</NAME><MEMO>Drawer 3 &amp; 4</MEMO>
          </STMTTRN>
          <STMTTRN>
            <TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240301</DTPOSTED><DTAVAIL>20240302</DTAVAIL>
            <TRNAMT>-45.00</TRNAMT><FITID>D-2</FITID>
            <NAME>DEPOSITED ITEM RETURNED</NAME><MEMO>NSF CHECK 1201</MEMO>
          </STMTTRN>
        </BANKTRANLIST>
        <LEDGERBAL><BALAMT>10475.75</BALAMT><DTASOF>20240301235959</DTASOF></LEDGERBAL>
      </STMTRS>
    </STMTTRNRS>
  </BANKMSGSRSV1>
  <CREDITCARDMSGSRSV1>
    <CCSTMTTRNRS>
      <TRNUID>2</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
      <CCSTMTRS>
        <CURDEF>USD</CURDEF><CCACCTFROM><ACCTID>XXXX1111</ACCTID></CCACCTFROM>
        <BANKTRANLIST><DTSTART>20240301</DTSTART><DTEND>20240301</DTEND>
          <STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240301</DTPOSTED>
            <TRNAMT>-12.00</TRNAMT><FITID>D-1</FITID><NAME>OFFICE DEPOT</NAME></STMTTRN>
        </BANKTRANLIST>
      </CCSTMTRS>
    </CCSTMTTRNRS>
  </CREDITCARDMSGSRSV1>
</OFX>
"""


def test_ofx2_xml_bank_and_credit_card_statements():
    parsed = parse_statement_file(OFX2.encode())

    assert parsed.format == "ofx"
    assert parsed.file_id == "K-2024-0301"
    assert parsed.created == datetime.fromisoformat("2024-03-02T06:00:00-08:00")
    bank, card = parsed.statements
    assert (bank.line, bank.account_number, bank.closing_balance) == (
        10,
        "4455667788",
        Decimal("10475.75"),
    )
    assert bank.statement_id == "4455667788:20240301-20240301"
    deposit, returned = bank.lines
    assert (deposit.line, deposit.amount, deposit.type_code) == (16, Decimal("1520.75"), "DEP")
    assert (deposit.customer_ref, deposit.description) == (
        "DEP 0001",
        "COUNTER DEPOSIT Drawer 3 & 4",
    )
    assert (returned.amount, returned.value_date) == (Decimal("-45.00"), date(2024, 3, 2))
    assert returned.is_returned_item and not deposit.is_returned_item
    assert card.account_number == "XXXX1111"
    assert card.lines[0].amount == Decimal("-12.00")  # same FITID as D-1, other account
    assert (parsed.total_credits, parsed.total_debits) == (Decimal("1520.75"), Decimal("57.00"))


def test_ofx_statement_without_its_date_range_is_read_with_a_discrepancy():
    data = fixture("ofxparse__checking.ofx")
    no_dates = data.replace(b"<DTSTART>20000101070000.000", b"").replace(
        b"<DTEND>20130525060000.000", b""
    )
    parsed = parse_statement_file(no_dates)
    (statement,) = parsed.statements
    assert (statement.start, statement.end) == (date(2011, 3, 31), date(2011, 4, 7))
    assert len(statement.lines) == 3
    (item,) = parsed.discrepancies
    assert str(item) == (
        "Line 43: The statement of account 1452687~7 does not give its dates (<DTSTART> "
        "and <DTEND> missing): the period 2011-03-31 to 2011-04-07 is taken from its "
        "transactions."
    )
    assert (item.kind, item.statements, item.amount) == ("dates", (0,), None)
    only_end = parse_statement_file(data.replace(b"<DTSTART>20000101070000.000", b""))
    assert [d.message for d in only_end.discrepancies] == [
        "The statement of account 1452687~7 does not give <DTSTART> (<DTSTART> missing): "
        "the period 2011-03-31 to 2013-05-25 is taken from its transactions."
    ]
    assert parse_statement_file(data).discrepancies == ()


def test_ofx_duplicate_transaction_ids_are_refused():
    data = fixture("ofxparse__checking.ofx").replace(b"<FITID>0000487", b"<FITID>0000486")
    assert refusal(data) == [
        "Line 54: The transaction id (FITID) 0000486 was already used on line 46; each "
        "transaction must have its own."
    ]


def test_ofx_statement_without_account_number_is_refused():
    data = fixture("ofxparse__checking.ofx").replace(b"<ACCTID>1452687~7", b"<ACCTID>")
    assert refusal(data) == [
        "Line 36: The statement has no account number (<BANKACCTFROM><ACCTID>)."
    ]


def test_ofx_amount_with_three_decimals_is_refused():
    data = fixture("ofxparse__checking.ofx").replace(b"<TRNAMT>-34.51", b"<TRNAMT>-34.515")
    assert refusal(data) == [
        'Line 54: The amount "-34.515" has more than 2 decimal places, the most USD amounts have.'
    ]


# --- Cut short, damaged, hostile and mis-totalled files --------------------------------


def test_bai2_cut_mid_file_is_refused():
    data = b"\n".join(fixture("moov__sample2.bai2").split(b"\n")[:12])  # after a 98
    assert refusal(data) == [
        "Line 12: The file ends without a file trailer (99): it looks cut short. Download "
        "it again from the bank.",
    ]


def test_bai2_cut_inside_an_account_is_refused_with_where_it_starts():
    data = b"\n".join(fixture("moov__sample2.bai2").split(b"\n")[:15])
    assert refusal(data) == [
        "Line 14: Account 4589761203 has no account trailer (49): the file ends inside it.",
        "Line 15: The file ends without a file trailer (99): it looks cut short. Download "
        "it again from the bank.",
    ]


def test_bai2_with_only_a_file_header_is_refused():
    assert refusal(b"01,SENDER,RECEIVER,240302,0600,FILE7,,,2/\n\n") == [
        "Line 1: The file ends without a file trailer (99): it looks cut short. Download "
        "it again from the bank."
    ]


def test_bai2_with_no_accounts_is_refused():
    assert refusal(b"01,SENDER,RECEIVER,240302,0600,FILE7,,,2/\n99,0,0,2/\n") == [
        "The file holds no accounts."
    ]


def test_bai2_wrong_account_control_total_is_a_discrepancy_of_that_account():
    data = fixture("moov__sample2.bai2")
    parsed = parse_statement_file(data.replace(b"49,9150000,4/", b"49,9150001,4/"))
    assert len(parsed.statements) == 5 and parsed.transaction_count == 4  # read whole
    account, group = parsed.discrepancies
    assert str(account) == (
        "Line 6: The account trailer (49) gives a control total of 9150001 for account "
        "0123456789 (line 3), but its records add up to 9150000."
    )
    assert (account.kind, account.expected, account.found, account.difference) == (
        "control_total",
        "9150001",
        "9150000",
        "-1",
    )
    assert account.amount == Decimal("-0.01") and account.statements == (0,)
    assert account.where == "account trailer (49) of account 0123456789"
    # The group's trailer adds up the account trailers as written, so it disagrees too.
    assert str(group) == (
        "Line 12: The group trailer (98) gives a control total of 13150000 for the group "
        "that starts on line 2, but its account trailers add up to 13150001."
    )
    assert group.statements == (0, 1)  # both accounts of the first group


def test_bai2_wrong_group_and_file_totals_and_counts_are_discrepancies():
    data = fixture("moov__sample2.bai2")
    group_total = discrepancies(data.replace(b"98,180000000,1,8/", b"98,180000001,1,8/"))
    assert group_total == [
        "Line 20: The group trailer (98) gives a control total of 180000001 for the group "
        "that starts on line 13, but its account trailers add up to 180000000.",
        "Line 31: The file trailer (99) gives a control total of 345450000, but the group "
        "trailers add up to 345450001.",
    ]
    file_total = parse_statement_file(data.replace(b"99,345450000,", b"99,345450009,"))
    (item,) = file_total.discrepancies
    assert str(item) == (
        "Line 31: The file trailer (99) gives a control total of 345450009, but the group "
        "trailers add up to 345450000."
    )
    assert item.statements == (0, 1, 2, 3, 4) and item.amount == Decimal("-0.09")
    assert discrepancies(data.replace(b"99,345450000,4,31/", b"99,345450000,4,30/")) == [
        "Line 31: The file trailer (99) counts 30 records, but the file has 31."
    ]
    assert discrepancies(data.replace(b"99,345450000,4,31/", b"99,345450000,3,31/")) == [
        "Line 31: The file trailer (99) counts 3 groups, but the file has 4."
    ]
    wrong_accounts = parse_statement_file(data.replace(b"98,180000000,1,8/", b"98,180000000,2,8/"))
    (item,) = wrong_accounts.discrepancies
    assert str(item) == (
        "Line 20: The group trailer (98) counts 2 accounts for the group that starts on line "
        "13, but it has 1."
    )
    assert (item.kind, item.expected, item.found, item.difference) == (
        "account_count",
        "2",
        "1",
        "-1",
    )
    assert item.statements == (2,)
    assert discrepancies(data.replace(b"98,180000000,1,8/", b"98,180000000,1,9/")) == [
        "Line 20: The group trailer (98) counts 9 records for the group that starts on line "
        "13, but it has 8."
    ]
    assert discrepancies(data.replace(b"49,9150000,4/", b"49,9150000,5/")) == [
        "Line 6: The account trailer (49) counts 5 records for account 0123456789 (line 3), "
        "but it has 4."
    ]


def test_bai2_that_adds_up_has_no_discrepancy():
    for name in ("moov__sample1.bai2", "moov__sample2.bai2", "mojbai2__citi_example.bai2"):
        assert parse_statement_file(fixture(name)).discrepancies == ()


def test_bai2_unreadable_trailer_is_refused_with_the_discrepancies_found():
    data = fixture("moov__sample2.bai2").replace(b"49,9150000,4/", b"49,9150000,X/")
    data = data.replace(b"99,345450000,4,31/", b"99,345450000,4,30/")
    assert refusal(data) == [
        'Line 6: The account record count "X" is not a number.',
        "Line 31: The file trailer (99) counts 30 records, but the file has 31.",
    ]


def _records(data: bytes) -> list[str]:
    return [row for row in data.decode().split("\n") if row]


def _same_statements(parsed: ParsedFile, expected: ParsedFile) -> None:
    assert parsed.discrepancies == ()
    assert parsed.record_count == expected.record_count
    assert [
        (s.account_number, s.opening_balance, s.closing_balance) for s in parsed.statements
    ] == [(s.account_number, s.opening_balance, s.closing_balance) for s in expected.statements]
    assert [
        (line.amount, line.type_code, line.bank_ref, line.description)
        for s in parsed.statements
        for line in s.lines
    ] == [
        (line.amount, line.type_code, line.bank_ref, line.description)
        for s in expected.statements
        for line in s.lines
    ]


def test_bai2_with_every_record_on_one_line_is_read_like_the_file():
    data = fixture("moov__sample2.bai2")
    one_line = "".join(_records(data)).encode() + b"\n"
    parsed = parse_statement_file(one_line)
    _same_statements(parsed, parse_statement_file(data))
    assert parsed.transaction_count == 4
    # Every line of it is line 1; the text after a transaction's "/" is its continuation.
    assert {line.line for s in parsed.statements for line in s.lines} == {1}
    details = [line.description for s in parsed.statements for line in s.lines]
    assert "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO" in details


def test_bai2_in_fixed_length_blocks_is_read_like_the_file():
    data = fixture("moov__sample2.bai2")  # its header says 65-character physical records
    padded = [record.ljust(65) for record in _records(data)]
    expected = parse_statement_file(data)
    # Blocks of five physical records to a line, and the whole file on one line.
    blocks = "\n".join("".join(padded[i : i + 5]) for i in range(0, len(padded), 5))
    _same_statements(parse_statement_file(blocks.encode()), expected)
    _same_statements(parse_statement_file("".join(padded).encode()), expected)
    # One record to a line, padded with spaces to the record length.
    _same_statements(parse_statement_file("\r\n".join(padded).encode()), expected)


def test_bai2_block_whose_text_fills_its_physical_record():
    records = [
        "01,SEND,RECV,240302,0600,F7,40,,2/",
        "02,RECEIVER,SENDER,1,240301,2400,USD,2/",
        "03,123,,010,100,,/",
        "16,301,100,0,A,B,TEXT THAT FILLS THE LIN",  # 40 characters, no "/"
        "16,301,200,0,C,D,SHORT/",
        "49,400,4/",
        "98,400,1,6/",
        "99,400,1,8/",
    ]
    assert len(records[3]) == 40
    parsed = parse_statement_file("".join(r.ljust(40) for r in records).encode())
    assert parsed.discrepancies == ()
    assert [line.description for line in parsed.statements[0].lines] == [
        "TEXT THAT FILLS THE LIN",
        "SHORT",
    ]


def test_bai2_unterminated_text_records_joined_with_slashes():
    data = fixture("mojbai2__svb_us_example.bai2")
    ended = "".join(r if r.endswith("/") else r + "/" for r in _records(data))
    parsed = parse_statement_file(ended.encode())
    _same_statements(parsed, parse_statement_file(data))


def test_bai2_text_that_looks_like_a_record_start_stays_text():
    data = bai2_file(
        ["03,123,,010,100,,/", "16,301,100,0,A,B,PAID 1/16,2024 SEE 3/03 INV 7/98,1/"],
        total=200,
    )
    parsed = parse_statement_file(data)
    (line,) = parsed.statements[0].lines
    assert line.description == "PAID 1/16,2024 SEE 3/03 INV 7/98,1"


def test_bai2_problem_on_a_line_of_several_records_names_the_record():
    data = fixture("moov__sample2.bai2").replace(b"16,115,450000,S", b"16,115,45O000,S")
    one_line = "".join(_records(data)).encode()
    assert refusal(one_line) == [
        'Line 1, record 5: The transaction amount is "45O000", not a number.'
    ]
    wrong_count = "".join(_records(fixture("moov__sample2.bai2"))).replace(
        "49,9150000,4/", "49,9150000,5/"
    )
    (item,) = parse_statement_file(wrong_count.encode()).discrepancies
    assert str(item) == (
        "Line 1, record 6: The account trailer (49) counts 5 records for account "
        "0123456789 (line 1), but it has 4."
    )
    assert item.record == 6


def test_bai2_garbled_bytes_are_refused_with_their_lines():
    data = bytearray(fixture("mojbai2__citi_example.bai2"))
    data[data.index(b"49,20001") + 4] = ord("O")  # 49,2O001
    data[data.index(b"16,191,001") + 8] = ord("x")  # 16,191,0x1
    assert refusal(bytes(data)) == [
        'Line 4: The transaction amount is "0x1", not a number.',
        'Line 12: The account control total "2O001" is not a number.',
    ]


def test_bai2_unknown_records_order_and_bad_dates_are_refused():
    data = bai2_file(
        [
            "03,123,,010,100,,/",
            "17,unknown record/",
            "16,301,100,0,A,B,TEXT/",
            "16,999X,100,0,A,B,TEXT/",
            "16,301,100,V,240231,,A,B/",
        ],
        total=400,
    ).replace(b"240301,2400", b"241301,2400")
    assert refusal(data) == [
        'Line 2: The as-of date "241301" is not a date (YYMMDD).',
        'Line 4: "17" is not a BAI2 record code (01, 02, 03, 16, 49, 88, 98 or 99).',
        'Line 6: The type code "999X" is not a 3-digit BAI2 type code.',
        'Line 7: The value date "240231" is not a date (YYMMDD).',
    ]
    out_of_order = bai2_file(["03,123,,010,100,,/"], total=100).replace(
        b"49,100,2/\n", b"49,100,2/\n16,301,100,0,,,/\n"
    )
    assert refusal(out_of_order)[0] == (
        "Line 5: A transaction detail (16) must follow an account identifier (03)."
    )


def test_bai2_fund_types_and_their_fields():
    data = bai2_file(
        [
            "03,555000111,,010,100000,,,015,,,/",
            "16,301,100,0,R0,C0,IMMEDIATE/",
            "16,301,200,1,R1,C1,ONE DAY/",
            "16,301,300,2,R2,C2,TWO DAYS/",
            "16,301,400,Z,R3,C3,UNKNOWN/",
            "16,301,500,,R4,C4,NO FUNDS TYPE/",
            "16,301,600,V,240305,1430,R5,C5,VALUE DATED/",
            "16,301,700,S,100,200,400,R6,C6,SPLIT, WITH A COMMA/",
            "16,301,800,D,3,0,100,1,300,5,400,R7,C7,DISTRIBUTED/",
            "16,475,900,D,1,0",
            "88,900,R8,C8/",
            "88,CHECK PAID",
        ],
        total=100000 + 4500,
    )
    parsed = parse_statement_file(data)
    lines = parsed.statements[0].lines
    assert [line.amount for line in lines] == [
        Decimal(x)
        for x in ("1.00", "2.00", "3.00", "4.00", "5.00", "6.00", "7.00", "8.00", "-9.00")
    ]
    assert [line.bank_ref for line in lines] == [f"R{n}" for n in range(9)]
    assert [line.customer_ref for line in lines] == [f"C{n}" for n in range(9)]
    assert [line.value_date for line in lines] == [None] * 5 + [date(2024, 3, 5)] + [None] * 3
    assert lines[6].description == "SPLIT, WITH A COMMA"
    assert lines[8].description == "CHECK PAID"
    assert parsed.statements[0].opening_balance == Decimal("1000.00")
    assert parsed.statements[0].closing_balance is None  # blank amount: not reported

    unknown = bai2_file(["03,555000111,,010,100,,/", "16,301,100,X,R,C/"], total=200)
    assert refusal(unknown) == ['Line 4: "X" is not a BAI2 funds type (0, 1, 2, V, S, D or Z).']
    short = bai2_file(["03,555000111,,010,100,,/", "16,301,100,D,3,0,50/"], total=200)
    assert refusal(short) == [
        "Line 4: The funds type D announces 3 availability distributions but fewer follow."
    ]


def test_bai2_returned_item_codes_and_implied_decimals_by_currency():
    data = bai2_file(
        [
            "03,777,JPY,010,50000,,/",
            "16,555,1200,0,R1,,DEPOSITED ITEM RETURNED/",
            "16,567,1500,0,R2,,RETURN ITEM FEE/",
            "16,301,3000,0,R3,,DEPOSIT/",
        ],
        total=55700,
    )
    statement = parse_statement_file(data).statements[0]
    assert statement.currency == "JPY"
    assert statement.opening_balance == Decimal("50000.00")
    assert [(line.amount, line.is_returned_item) for line in statement.lines] == [
        (Decimal("-1200.00"), True),
        (Decimal("-1500.00"), False),
        (Decimal("3000.00"), False),
    ]


def test_truncated_camt053_is_refused():
    data = fixture("genkgo__camt053.v2.multi.statement.xml")
    cut = data[: len(data) // 2]
    (message,) = refusal(cut)
    assert message.startswith("Line 96: The XML ends before it is complete")
    assert "cut short" in message


def test_truncated_ofx_is_refused():
    data = b"\n".join(fixture("ofxparse__checking.ofx").split(b"\n")[:60])
    assert refusal(data) == [
        "Line 43: The <BANKTRANLIST> that starts here is never closed: the file ends early "
        "and looks cut short. Download it again from the bank."
    ]


def test_xml_entity_bomb_is_refused_before_parsing():
    bomb = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol2;</Document>\n'
    )
    assert refusal(bomb) == [
        "Line 2: The file declares an XML DOCTYPE, which bank statement files never do, "
        "so it is refused."
    ]


def test_empty_binary_html_random_and_unknown_files_are_refused():
    assert refusal(b"") == ["The file is empty."]
    rng = random.Random(4)
    noise = bytes(rng.randrange(256) for _ in range(2048))
    assert refusal(noise)[0].startswith("This file is not a text file or a spreadsheet")
    assert refusal(b"<html><body><table><tr><td>1</td></tr></table></body></html>")[0] == (
        "This is a web page (HTML); upload a text or XML file."
    )
    assert refusal(b"Dear customer, your statement is attached.\n") == [
        "This is not a bank statement file that can be read: expected BAI2 (starting with "
        '"01,"), ISO 20022 camt.053 XML, or OFX; a CSV file needs a column mapping. Its first '
        'line reads: "Dear customer, your statement is attached.".'
    ]
    camt052 = (
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>'
    )
    assert "ask the bank for camt.053" in refusal(camt052)[0]


def test_oversized_files_are_refused():
    data = fixture("moov__sample2.bai2")
    assert refusal(data, max_bytes=100) == [
        "The file is larger than 100 bytes, the most that can be uploaded."
    ]
    assert MAX_STATEMENT_BYTES == 20 * 1024 * 1024
    big = io.BytesIO(b"01," + b"x" * MAX_STATEMENT_BYTES)
    assert refusal(big) == ["The file is larger than 20 MB, the most that can be uploaded."]


def test_uploaded_file_objects_are_read_too():
    upload = SimpleUploadedFile("statement.txt", fixture("moov__sample1.bai2"))
    assert parse_statement_file(upload).transaction_count == 17


# --- Mapped CSV --------------------------------------------------------------------------


def test_csv_with_a_signed_amount_column_and_accounts():
    data = (
        b"Posted,Amount,Details,Ref,Account\n"
        b"03/01/2024,1520.75,COUNTER DEPOSIT,D1,111\n"
        b"03/01/2024,-45.00,RETURNED ITEM NSF,R1,111\n"
        b'03/02/2024,"(12.00)",SERVICE CHARGE,,222\n'
    )
    mapping = CsvMapping(
        date="Posted",
        amount="Amount",
        description="Details",
        reference="Ref",
        account_number="Account",
    )
    parsed = parse_statement_file(data, csv_mapping=mapping)
    assert parsed.format == "csv"
    first, second = parsed.statements
    assert (first.account_number, first.line, first.start, len(first.lines)) == (
        "111",
        2,
        date(2024, 3, 1),
        2,
    )
    assert [line.amount for line in first.lines] == [Decimal("1520.75"), Decimal("-45.00")]
    assert first.lines[1].is_returned_item
    assert first.lines[0].customer_ref == "D1"
    assert (second.account_number, second.lines[0].amount) == ("222", Decimal("-12.00"))
    assert not second.lines[0].is_returned_item


def test_csv_with_credit_and_debit_columns_and_a_date_format():
    data = b"Date;Credit;Debit;Memo\n2024.03.01;100.00;;DEPOSIT\n2024.03.02;;25.50;CHECK 101\n"
    mapping = CsvMapping(
        date="Date",
        credit="Credit",
        debit="Debit",
        description="Memo",
        default_account_number="9988",
        date_format="%Y.%m.%d",
    )
    parsed = parse_statement_file(data, csv_mapping=mapping)
    (statement,) = parsed.statements
    assert statement.account_number == "9988"
    assert [(line.booked, line.amount) for line in statement.lines] == [
        (date(2024, 3, 1), Decimal("100.00")),
        (date(2024, 3, 2), Decimal("-25.50")),
    ]


def test_csv_bad_date_and_bad_amount_lines_are_reported_with_their_lines():
    data = (
        b"Date,Amount,Description\n"
        b"2024-03-01,10.00,OK\n"
        b"2024-02-30,11.00,BAD DATE\n"
        b"2024-03-03,12.3x,BAD AMOUNT\n"
        b"2024-03-04,1.005,TOO MANY PLACES\n"
    )
    mapping = CsvMapping(date="Date", amount="Amount", default_account_number="1")
    assert refusal(data, csv_mapping=mapping) == [
        'Line 3, column "Date": "2024-02-30" is not a date on the calendar.',
        'Line 4, column "Amount": "12.3x" is not an amount.',
        'Line 5, column "Amount": "1.005" has more than two decimal places.',
    ]


def test_csv_without_an_account_number_is_refused():
    data = b"Date,Amount\n2024-03-01,10.00\n"
    assert refusal(data, csv_mapping=CsvMapping(date="Date", amount="Amount")) == [
        "Line 2: The row has no account number."
    ]


def test_csv_mapping_must_name_amount_columns():
    with pytest.raises(ValueError, match="amount column"):
        CsvMapping(date="Date")


# --- Generated files ---------------------------------------------------------------------


def test_bai2_sample_parses_with_its_totals():
    data = bai2_sample(lines=2000, account_number="4455", business_date=date(2024, 3, 1), seed=3)
    parsed = parse_statement_file(data)
    (statement,) = parsed.statements
    assert parsed.transaction_count == 2000
    assert statement.account_number == "4455"
    assert statement.start == date(2024, 3, 1)
    assert statement.opening_balance + parsed.total_credits - parsed.total_debits == (
        statement.closing_balance
    )
    assert any("88," in line for line in data.decode().splitlines())
    assert any(line.is_returned_item for line in statement.lines)  # some 555s
    assert data == bai2_sample(
        lines=2000, account_number="4455", business_date=date(2024, 3, 1), seed=3
    )


def test_ofx_with_an_xml_header_on_an_sgml_body_is_read_like_the_sgml_file():
    sgml = fixture("ofxparse__checking.ofx")
    body = sgml[sgml.index(b"<OFX>") :]
    mixed = (
        b'<?xml version="1.0" encoding="US-ASCII" standalone="no"?>\n'
        b'<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" '
        b'NEWFILEUID="F-2026-0316"?>\n' + body
    )
    expected = parse_statement_file(sgml)
    parsed = parse_statement_file(mixed)
    assert parsed.format == "ofx"
    assert parsed.file_id == "F-2026-0316"
    assert sum(len(s.lines) for s in parsed.statements) == expected.transaction_count > 0
    assert [
        [(line.booked, line.amount, line.description) for line in s.lines]
        for s in parsed.statements
    ] == [
        [(line.booked, line.amount, line.description) for line in s.lines]
        for s in expected.statements
    ]
    # Line numbers still point into the file as sent: <OFX> is on line 3, not line 11.
    first = parsed.statements[0].lines[0].line
    assert first == expected.statements[0].lines[0].line - 11 + 3


def test_xml_that_is_neither_well_formed_nor_ofx_is_still_refused():
    assert refusal(b'<?xml version="1.0"?>\n<Document><Stmt>\n')[0].startswith("Line ")
