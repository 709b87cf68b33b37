// Reading the head of an uploaded CSV in the browser: its columns, its number of rows and the
// column mapping to propose. The user corrects the proposal; only the corrections are sent, and
// the batch service's own detection maps the rest. Header words follow its rules
// (services/batch/columns.py): a header feeds a field when it holds the field's core word and
// nothing but known qualifiers.

export const INPUT_FIELDS = ["email", "first_name", "last_name", "full_name", "company_name", "company_domain", "linkedin_url"] as const;
export type InputField = (typeof INPUT_FIELDS)[number];
export const FIELD_LABELS: Record<InputField, string> = {
  email: "Email",
  first_name: "First name",
  last_name: "Last name",
  full_name: "Full name",
  company_name: "Company",
  company_domain: "Company domain",
  linkedin_url: "LinkedIn URL",
};

const PEOPLE = "contact attendee lead person prospect customer member registrant participant guest delegate";
const words = (text: string) => new Set(text.split(" "));
const RULES: Record<InputField, [string[][], Set<string>]> = {
  email: [[["email"]], words(`${PEOPLE} address work business primary main personal professional corporate company direct official 1`)],
  first_name: [[["first"], ["given"], ["forename"]], words(`${PEOPLE} name preferred`)],
  last_name: [[["last"], ["surname"], ["family"]], words(`${PEOPLE} name`)],
  full_name: [[["name"]], words(`${PEOPLE} full display`)],
  company_name: [[["company"], ["organization"], ["organisation"], ["account"], ["employer"]], words(`${PEOPLE} name current legal primary 1`)],
  company_domain: [
    [["domain"], ["website"], ["web", "site"], ["url"], ["homepage"]],
    words("company organization organisation account employer primary main corporate business url name address"),
  ],
  linkedin_url: [[["linkedin"]], words(`${PEOPLE} url profile link address page public personal`)],
};

function headerWords(header: string): string[] {
  const text = header
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/linked\s*in/g, "linkedin")
    .replace(/(^|[^a-z])e\s*-?\s*mail/g, "$1email");
  return text.split(/[^a-z0-9]+/).filter(Boolean);
}

function matches(header: string, field: InputField): boolean {
  const found = headerWords(header);
  const [cores, qualifiers] = RULES[field];
  return cores.some((core) => core.every((w) => found.includes(w)) && found.every((w) => core.includes(w) || qualifiers.has(w)));
}

export function detectMapping(headers: string[]): Record<InputField, string | null> {
  const taken = new Set<string>();
  const mapping = {} as Record<InputField, string | null>;
  for (const field of INPUT_FIELDS) {
    const column = headers.find((header) => !taken.has(header) && matches(header, field)) ?? null;
    if (column !== null) taken.add(column);
    mapping[field] = column;
  }
  return mapping;
}

/** The header row and the number of data rows (quoted fields may hold commas and newlines). */
export function scanCsv(text: string): { headers: string[]; rows: number } {
  const headers: string[] = [];
  let cell = "";
  let quoted = false;
  let rows = 0;
  let inHeader = true;
  let rowHasData = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        if (inHeader) cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else if (inHeader) cell += c;
      continue;
    }
    if (c === '"') {
      quoted = true;
      rowHasData = true;
    } else if (c === "," && inHeader) {
      headers.push(cell.trim());
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (inHeader) {
        headers.push(cell.trim());
        inHeader = false;
      } else if (rowHasData) rows++;
      rowHasData = false;
    } else {
      if (inHeader) cell += c;
      else if (c !== ",") rowHasData = true;
    }
  }
  if (inHeader && cell) headers.push(cell.trim());
  else if (!inHeader && rowHasData) rows++;
  return { headers: headers.map((h) => h.replace(/^\uFEFF/, "")), rows };
}
