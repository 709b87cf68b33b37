"""How `leadmesh up --demo` prints an answer: from whatever keys it has, signals as names or as
objects with one, the demo label when the answer carries it."""

from __future__ import annotations

from cli.answers import csv_lines, lead_answer_lines

LEAD = {
    "email": "ada@northwind.example",
    "email_status": "valid",
    "first_name": "Ada",
    "last_name": "Byron",
    "title": "VP Sales",
    "seniority": "vp",
    "company_name": "Northwind",
    "company_domain": "northwind.example",
    "company_size": "51-200",
    "icp_score": 87,
    "icp_tier": "high_priority",
    "icp_signals": ["target_seniority", "company_size_fit"],
}


def test_a_lead_reads_the_same_with_signal_names_or_signal_objects() -> None:
    as_names = {**LEAD, "intent_signals": ["hiring_sales_ops", "adopted_hubspot"]}
    as_objects = {**LEAD, "intent_signals": [{"name": "hiring_sales_ops"}, {"name": "adopted_hubspot"}]}
    printed = [
        lead_answer_lines(
            200, {"status": "completed", "lead": lead, "meta": {"credits_used": 1, "demo": True}}
        )
        for lead in (as_names, as_objects)
    ]
    assert (
        printed[0]
        == printed[1]
        == [
            "HTTP 200 completed (1 credit, demo data)",
            "  Ada Byron  VP Sales (vp)  <ada@northwind.example> valid",
            "  at Northwind (northwind.example, 51-200)",
            "  ICP 87 high_priority: target_seniority, company_size_fit",
            "  intent: hiring_sales_ops, adopted_hubspot",
        ]
    )


def test_a_company_answer_lists_its_contacts_and_an_error_says_why() -> None:
    company = {"company_name": "Northwind", "company_domain": "northwind.example", "intent_signals": []}
    lines = lead_answer_lines(200, {"status": "completed", "lead": company, "contacts": [LEAD], "meta": {}})
    assert lines[1:] == [
        "  Northwind (northwind.example)",
        "  intent: -",
        "  best-fit contacts:",
        "     87  Ada Byron  VP Sales (vp)  <ada@northwind.example> valid",
    ]
    error = {"error": {"code": "INSUFFICIENT_CREDITS", "message": "not enough credits"}}
    assert lead_answer_lines(402, error)[1] == "  INSUFFICIENT_CREDITS: not enough credits"


def test_the_csv_answer_is_one_line_a_row_under_its_totals() -> None:
    text = (
        "email,row_id,status,enriched_email_status,icp_score,intent_signals\n"
        "ada@northwind.example,1,enriched,valid,87,hiring_sales_ops; adopted_hubspot\n"
        ",2,invalid_input,,,\n"
    )
    rows = [{"email": "ada@northwind.example"}, {"first_name": "Sam"}]
    lines = csv_lines({"x-credits-used": "1"}, text, rows)
    assert lines[0] == "2 rows: 1 enriched, 1 invalid_input; 1 credit"
    assert lines[2].split() == [
        "1",
        "ada@northwind.example",
        "enriched",
        "valid",
        "87",
        "hiring_sales_ops,",
        "adopted_hubspot",
    ]
    assert lines[3].split() == ["2", "Sam", "invalid_input", "-", "-", "-"]
