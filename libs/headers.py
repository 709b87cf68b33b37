"""Which field a column of contact data holds, by its header name: the one synonym table of CSV
jobs (``services/batch/columns.py``) and directory imports (``services/providers/importer.py``).

Headers are compared by their letters and digits, lower-cased: ``E-mail Address``,
``email_address`` and ``EmailAddress`` are all ``emailaddress``. The lead's input fields
(``libs.leads.INPUT_FIELDS``) come first; the others are what a directory row may add.
"""

from __future__ import annotations

import re

__all__ = ["HEADER_SYNONYMS", "field_of_header", "header_key"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HEADER_SYNONYMS: dict[str, frozenset[str]] = {
    "email": _words(
        "email emailaddress email1 emailaddress1 mail emails workemail workemailaddress businessemail "
        "businessemailaddress contactemail contactemailaddress primaryemail primaryemailaddress "
        "personemail attendeeemail leademail emailwork"
    ),
    "first_name": _words(
        "firstname givenname fname first forename contactfirstname attendeefirstname leadfirstname"
    ),
    "last_name": _words(
        "lastname surname familyname lname last contactlastname attendeelastname leadlastname"
    ),
    "full_name": _words("name fullname contactname contact attendeename attendee person personname leadname"),
    "company_name": _words(
        "company companyname organization organisation organizationname organisationname accountname "
        "employer employername account org currentcompany"
    ),
    "company_domain": _words(
        "domain companydomain website companywebsite url websiteurl companyurl homepage webaddress "
        "companywebsiteurl accountwebsite organizationwebsite organisationwebsite"
    ),
    "linkedin_url": _words(
        "linkedinurl linkedin linkedinprofile linkedinprofileurl personlinkedinurl contactlinkedinurl "
        "linkedinlink linkedinprofilelink"
    ),
    "title": _words("title jobtitle position role jobrole designation"),
    "phone": _words("phone phonenumber mobile mobilephone directdial telephone workphone"),
    "country": _words("country countrycode personcountry"),
    "city": _words("city personcity locationcity"),
    "industry": _words("industry companyindustry sector vertical"),
    "employee_count": _words("employees employeecount companysize headcount size numemployees staff"),
    "revenue": _words("revenue annualrevenue companyrevenue estimatedrevenue"),
    "company_country": _words("companycountry hqcountry"),
    "technologies": _words("technologies techstack technology companytechnologies"),
    "company_linkedin_url": _words("companylinkedin companylinkedinurl"),
    "company_phone": _words("companyphone hqphone mainphone"),
}
_FIELD_OF = {synonym: field for field, synonyms in HEADER_SYNONYMS.items() for synonym in synonyms}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def header_key(name: str) -> str:
    """A header as the table spells it: ``Work E-mail`` is ``workemail``."""
    return _NOT_ALNUM.sub("", name.lower())


def field_of_header(name: str) -> str | None:
    """The field a column named ``name`` holds, or None when the table does not know it."""
    return _FIELD_OF.get(header_key(name))
