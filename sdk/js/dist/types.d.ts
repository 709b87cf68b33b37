/**
 * The answers' shapes, as the API documents them (GET /openapi.json). The objects are the API's
 * JSON as it came: a field this version does not list yet is kept, not dropped.
 */
export type FieldGroup = "person" | "company" | "email" | "phone" | "linkedin";
export interface LeadInput {
    email?: string;
    first_name?: string;
    last_name?: string;
    /** A full name, when first and last are not apart. */
    name?: string;
    /** A company name, or its domain. */
    company?: string;
    company_domain?: string;
    domain?: string;
    linkedin_url?: string;
    /** Field groups to fill (default: all but `phone`; `phone` costs 11 credits). */
    fields?: FieldGroup[];
    skip_icp?: boolean;
    refresh?: boolean;
    /** For a company alone: how many best-fit contacts (1-25). */
    max_contacts?: number;
}
export interface CsvRowInput {
    email?: string;
    name?: string;
    first_name?: string;
    last_name?: string;
    company?: string;
    linkedin_url?: string;
    /** The row's number in your file, 1-indexed: the answer's `row_id`. */
    row_number?: number;
    total_rows?: number;
    /** Your own reference for the row, echoed as `row_ref`. */
    row_ref?: string;
    fields?: FieldGroup[];
}
export interface IcpPoints {
    name: string;
    points: number;
    detail: string | null;
}
export interface IntentSignalDetail {
    name: string;
    category: string | null;
    strength: number;
    observed_at: string | null;
    source: string | null;
    evidence: string[];
}
export interface Lead {
    email: string | null;
    email_status: string | null;
    first_name: string | null;
    last_name: string | null;
    title: string | null;
    seniority: string | null;
    company_name: string | null;
    company_domain: string | null;
    company_size: string | null;
    company_industry: string | null;
    company_revenue: string | null;
    phone: string | null;
    linkedin_url: string | null;
    icp_score: number | null;
    icp_tier: string | null;
    icp_signals: string[];
    icp_breakdown: IcpPoints[];
    intent_signals: string[];
    intent_signal_details: IntentSignalDetail[];
}
export interface Degradation {
    component: string;
    reason: string;
}
export interface LeadMeta {
    credits_used: number;
    providers_queried: number;
    providers_matched: number;
    confidence: number;
    enriched_at: string;
    icp_profile_version: number | null;
    degraded: Degradation[];
    demo: boolean;
}
export interface LeadAnswer {
    id: string;
    status: "completed" | "not_found";
    lead: Lead;
    /** Only for a company alone: its best-fit contacts by ICP score. */
    contacts?: Lead[] | null;
    meta: LeadMeta;
}
export interface CsvRow {
    row_id: number;
    row_ref: string | null;
    input_email: string | null;
    input_name: string | null;
    enriched_email_status: string | null;
    enriched_title: string | null;
    enriched_seniority: string | null;
    enriched_company: string | null;
    enriched_industry: string | null;
    enriched_size: string | null;
    enriched_phone: string | null;
    enriched_linkedin: string | null;
    icp_score: number | null;
}
export interface CsvRowAnswer {
    id: string;
    status: "completed" | "not_found";
    csv_row: CsvRow;
    meta: Omit<LeadMeta, "enriched_at" | "icp_profile_version"> & {
        row_number: number;
        total_rows: number;
    };
}
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export interface JobCounts {
    enriched: number;
    not_found: number;
    invalid_input: number;
    failed: number;
    pending: number;
}
export interface RowIssue {
    row: number;
    line: number;
    reason: string;
}
export interface Job {
    id: string;
    status: JobStatus;
    file_name: string | null;
    total_rows: number;
    counts: JobCounts;
    progress: number;
    credits_used: number;
    credits_reserved: number;
    mapping: Record<string, string>;
    fields: FieldGroup[];
    skip_icp: boolean;
    webhook_url: string | null;
    created_at: string | null;
    started_at: string | null;
    completed_at: string | null;
    error: {
        code: string;
        message: string;
    } | null;
    result_url: string;
    /** The first unusable rows (GET /v1/jobs/{id} and the upload's answer). */
    row_issues?: RowIssue[];
}
export interface Criterion<T extends string = string> {
    values: T[];
    weight: number;
}
export interface IcpExclusions {
    industries: string[];
    title_keywords: string[];
    seniorities: string[];
    company_domains: string[];
    countries: string[];
    penalty: number;
}
/** A whole profile; what a PUT leaves out is empty (criteria) or the default (tiers, boost). */
export interface IcpProfileInput {
    seniorities?: Partial<Criterion>;
    departments?: Partial<Criterion>;
    title_keywords?: Partial<Criterion>;
    company_sizes?: Partial<Criterion>;
    industries?: Partial<Criterion>;
    revenues?: Partial<Criterion>;
    countries?: Partial<Criterion>;
    technologies?: Partial<Criterion>;
    competitors?: string[];
    exclusions?: Partial<IcpExclusions>;
    tiers?: {
        high_priority?: number;
        nurture?: number;
    };
    intent_boost_max?: number;
}
export interface IcpProfile {
    seniorities: Criterion;
    departments: Criterion;
    title_keywords: Criterion;
    company_sizes: Criterion;
    industries: Criterion;
    revenues: Criterion;
    countries: Criterion;
    technologies: Criterion;
    competitors: string[];
    exclusions: IcpExclusions;
    tiers: {
        high_priority: number;
        nurture: number;
    };
    intent_boost_max: number;
    version: number;
    is_default: boolean;
    created_at: string;
}
export interface WebEvent {
    domain?: string;
    email?: string;
    type: string;
    occurred_at?: string;
    url?: string;
}
export interface SignalsAnswer {
    accepted: number;
    rejected: {
        index: number;
        reason: string;
        message: string;
    }[];
}
export interface LedgerEntry {
    id: string;
    type: string;
    amount: number;
    balance_after: number;
    description: string;
    idempotency_key: string;
    reservation_id: string | null;
    created_at: string;
}
export interface Credits {
    balance: number;
    reserved: number;
    free_tier: {
        monthly_credits: number;
        current_period: string;
        granted_this_period: boolean;
        next_grant_at: string;
    };
    ledger: LedgerEntry[];
    next_page_token: string | null;
}
export interface WebhookSecret {
    secret: string;
    header: string;
    scheme: string;
}
