//! Reports: conversations created in a time range, counted and timed per agent, team,
//! channel, language or rollout bucket, as JSON or CSV.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use omnidesk_core::{ConversationFilter, PageRequest};
use omnidesk_domain::{ContactId, Conversation, ConversationStatus, Timestamp, activity_minute};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Params};
use crate::{AppState, Me};

/// Conversations read for one report, at most: a wider range is refused.
pub(crate) const MAX_SCANNED: usize = 100_000;
/// Conversations per store page while scanning.
const PAGE: usize = 100;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// The default range: this long before `to`.
const DEFAULT_RANGE_MS: i64 = 7 * DAY_MS;
/// The latest time a range takes (9999-12-31T23:59:59.999Z).
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;
/// The rollout percent of `group_by=bucket` when none is given.
const DEFAULT_ROLLOUT: u8 = 10;

/// The stable rollout bucket (0–99) of a contact: the routing rules' own
/// ([`omnidesk_rules::bucket`]), so reports split contacts exactly as the rules routed them.
pub fn rollout_bucket(id: ContactId) -> u8 {
    omnidesk_rules::bucket(id)
}

#[derive(Deserialize)]
pub(crate) struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    rollout: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Agent,
    Team,
    Channel,
    Language,
    Bucket,
}

impl GroupBy {
    fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        Ok(match s {
            Some("agent") => Self::Agent,
            Some("team") => Self::Team,
            Some("channel") => Self::Channel,
            Some("language") => Self::Language,
            Some("bucket") => Self::Bucket,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_group_by",
                    "group_by: agent, team, channel, language or bucket",
                ));
            }
        })
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Team => "team",
            Self::Channel => "channel",
            Self::Language => "language",
            Self::Bucket => "bucket",
        }
    }
}

fn invalid_range(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_range", message)
}

/// A range bound: milliseconds since the epoch, or a UTC date (`YYYY-MM-DD`): its start, or
/// with `end_of_day` the start of the next day.
fn parse_bound(field: &str, raw: &str, end_of_day: bool) -> Result<Timestamp, ApiError> {
    let bad = || {
        invalid_range(format!(
            "{field}: a UTC date (YYYY-MM-DD) or milliseconds since the epoch (0 to {MAX_MS})"
        ))
    };
    // `1704067200000.0` is an integer to JSON Schema, so to this API too.
    let digits = raw
        .split_once('.')
        .filter(|(_, zeros)| !zeros.is_empty() && zeros.bytes().all(|b| b == b'0'))
        .map_or(raw, |(whole, _)| whole);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match digits.parse::<i64>() {
            Ok(ms) if ms <= MAX_MS => Ok(Timestamp::from_millis(ms)),
            _ => Err(bad()),
        };
    }
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(bad());
    }
    let start = Timestamp::parse_rfc3339(&format!("{raw}T00:00:00Z")).map_err(|_| bad())?;
    Ok(if end_of_day {
        // The end of 9999-12-31 is the last millisecond it has: times stay four-digit years.
        Timestamp::from_millis((start.millis() + DAY_MS).min(MAX_MS))
    } else {
        start
    })
}

/// `[from, to)` of the query: `to` defaults to now, `from` to seven days before `to`.
fn range(q: &ReportQuery, now: Timestamp) -> Result<(Timestamp, Timestamp), ApiError> {
    let to = match q.to.as_deref() {
        Some(raw) => parse_bound("to", raw, true)?,
        None => now,
    };
    let from = match q.from.as_deref() {
        Some(raw) => parse_bound("from", raw, false)?,
        None => to.plus_millis(-DEFAULT_RANGE_MS),
    };
    if from >= to {
        // A 409, not a 400: each bound is well formed; only together do they name no time
        // (which a request schema cannot state).
        return Err(ApiError::conflict(
            "invalid_range",
            "from must be before to (a date as `to` means the end of that day)",
        ));
    }
    Ok((from, to))
}

fn parse_rollout(raw: Option<&str>) -> Result<u8, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_ROLLOUT);
    };
    // `10.0` is an integer to JSON Schema.
    let raw = raw
        .split_once('.')
        .filter(|(_, zeros)| !zeros.is_empty() && zeros.bytes().all(|b| b == b'0'))
        .map_or(raw, |(whole, _)| whole);
    match raw.parse::<u8>() {
        Ok(p) if p <= 100 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(ApiError::invalid(
            "rollout",
            "a whole percent from 0 to 100",
        )),
    }
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Row {
    key: String,
    label: String,
    conversations: u64,
    resolved: u64,
    first_response_avg_secs: Option<f64>,
    first_response_p50_secs: Option<f64>,
    resolution_avg_secs: Option<f64>,
    resolution_p50_secs: Option<f64>,
    csat_avg: Option<f64>,
    csat_count: u64,
}

/// What a row is computed from.
#[derive(Default)]
struct Tally {
    conversations: u64,
    resolved: u64,
    first_response_ms: Vec<i64>,
    resolution_ms: Vec<i64>,
    csat: Vec<u8>,
}

impl Tally {
    fn add(&mut self, c: &Conversation) {
        self.conversations += 1;
        if let Some(at) = c.first_response_at {
            self.first_response_ms
                .push((at.millis() - c.created_at.millis()).max(0));
        }
        if c.status == ConversationStatus::Resolved {
            self.resolved += 1;
            if let Some(at) = c.resolved_at {
                self.resolution_ms
                    .push((at.millis() - c.created_at.millis()).max(0));
            }
        }
        if let Some(csat) = &c.csat {
            self.csat.push(csat.score);
        }
    }

    fn row(mut self, key: String, label: String) -> Row {
        Row {
            key,
            label,
            conversations: self.conversations,
            resolved: self.resolved,
            first_response_avg_secs: mean(&self.first_response_ms).map(secs),
            first_response_p50_secs: median(&mut self.first_response_ms).map(secs),
            resolution_avg_secs: mean(&self.resolution_ms).map(secs),
            resolution_p50_secs: median(&mut self.resolution_ms).map(secs),
            csat_avg: mean(&self.csat.iter().map(|s| i64::from(*s)).collect::<Vec<_>>())
                .map(|avg| (avg * 100.0).round() / 100.0),
            csat_count: self.csat.len() as u64,
        }
    }
}

/// The mean (milliseconds within ±2^53 are exact in an f64).
fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64)
}

/// The median (the mean of the middle two of an even count).
fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    })
}

/// Milliseconds as seconds, rounded to a tenth.
fn secs(ms: f64) -> f64 {
    (ms / 100.0).round() / 10.0
}

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    from: Timestamp,
    to: Timestamp,
    group_by: &'static str,
    /// The rollout percent (`group_by=bucket` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    rollout: Option<u8>,
    totals: Row,
    groups: Vec<Row>,
}

/// Every conversation created in `[from, to)`, newest activity first; refused past
/// [`MAX_SCANNED`] conversations read.
async fn created_in(
    deps: &crate::ApiDeps,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Conversation>, ApiError> {
    let filter = ConversationFilter::default();
    let mut out = Vec::new();
    let mut scanned = 0usize;
    let mut cursor = None;
    loop {
        let page = deps
            .conversations
            .list_conversations(
                &filter,
                &PageRequest {
                    limit: PAGE,
                    cursor,
                },
            )
            .await?;
        // Lists are ordered by the minute of the last activity, newest first, and nothing is
        // active before it was created: once a page ends before `from`'s minute, the rest of
        // the list was created before `from`.
        let past_from = page
            .items
            .last()
            .is_none_or(|c| activity_minute(c.last_activity_at) < activity_minute(from));
        scanned += page.items.len();
        out.extend(
            page.items
                .into_iter()
                .filter(|c| c.created_at >= from && c.created_at < to),
        );
        cursor = page.next_cursor;
        if cursor.is_none() || past_from {
            return Ok(out);
        }
        if scanned >= MAX_SCANNED {
            return Err(ApiError::conflict(
                "range_too_large",
                format!(
                    "more than {MAX_SCANNED} conversations to read for this range; narrow it (from, to)"
                ),
            ));
        }
    }
}

/// `GET /api/v1/reports/summary?from&to&group_by[&rollout][&format=csv]`.
pub(crate) async fn summary(
    State(deps): State<AppState>,
    _me: Me,
    Params(q): Params<ReportQuery>,
) -> Result<Response, ApiError> {
    let group_by = GroupBy::parse(q.group_by.as_deref())?;
    let (from, to) = range(&q, deps.clock.now())?;
    let rollout = parse_rollout(q.rollout.as_deref())?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "json or csv")),
    };
    let conversations = created_in(&deps, from, to).await?;
    let names: HashMap<String, String> = if group_by == GroupBy::Agent {
        deps.agents
            .list_agents()
            .await?
            .into_iter()
            .map(|a| (a.id.to_string(), a.name))
            .collect()
    } else {
        HashMap::new()
    };

    let mut totals = Tally::default();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    if group_by == GroupBy::Bucket {
        // Both sides of a rollout, even an empty one.
        groups.insert("in".to_owned(), Tally::default());
        groups.insert("out".to_owned(), Tally::default());
    }
    for c in &conversations {
        totals.add(c);
        groups
            .entry(group_key(group_by, c, rollout))
            .or_default()
            .add(c);
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|(key, tally)| {
            let label = names.get(&key).cloned().unwrap_or_else(|| key.clone());
            tally.row(key, label)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.conversations
            .cmp(&a.conversations)
            .then_with(|| a.key.cmp(&b.key))
    });
    let report = Report {
        from,
        to,
        group_by: group_by.as_str(),
        rollout: (group_by == GroupBy::Bucket).then_some(rollout),
        totals: totals.row("total".to_owned(), "total".to_owned()),
        groups: rows,
    };
    tracing::info!(
        group_by = report.group_by,
        conversations = conversations.len(),
        csv,
        "report"
    );
    if !csv {
        return Ok(Json(report).into_response());
    }
    let file = format!(
        "attachment; filename=\"report-{}-{}-{}.csv\"",
        from.utc_day(),
        to.plus_millis(-1).utc_day(),
        report.group_by
    );
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_str(&file).map_err(|_| ApiError::internal())?,
            ),
        ],
        to_csv(&report),
    )
        .into_response())
}

fn group_key(group_by: GroupBy, c: &Conversation, rollout: u8) -> String {
    match group_by {
        GroupBy::Agent => c
            .assignee_id
            .map_or_else(|| "unassigned".to_owned(), |a| a.to_string()),
        GroupBy::Team => c.team.clone().unwrap_or_else(|| "none".to_owned()),
        GroupBy::Channel => c.channel.as_str().to_owned(),
        GroupBy::Language => c
            .language
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), |l| l.primary().to_lowercase()),
        GroupBy::Bucket => if rollout_bucket(c.contact_id) < rollout {
            "in"
        } else {
            "out"
        }
        .to_owned(),
    }
}

/// The CSV columns, in order.
pub(crate) const CSV_HEADER: &str = "key,label,conversations,resolved,first_response_avg_secs,first_response_p50_secs,resolution_avg_secs,resolution_p50_secs,csat_avg,csat_count";

/// The report as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a comma, a quote
/// or a line break): the header, one row per group, then the `total` row. An empty field is
/// no value (nothing to average).
fn to_csv(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for row in report.groups.iter().chain(std::iter::once(&report.totals)) {
        let number = |v: Option<f64>, decimals: usize| {
            v.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
        };
        let fields = [
            csv_field(&row.key),
            csv_field(&row.label),
            row.conversations.to_string(),
            row.resolved.to_string(),
            number(row.first_response_avg_secs, 1),
            number(row.first_response_p50_secs, 1),
            number(row.resolution_avg_secs, 1),
            number(row.resolution_p50_secs, 1),
            number(row.csat_avg, 2),
            row.csat_count.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A text field: quoted when needed, and a leading `=`, `+`, `-`, `@` (a formula to a
/// spreadsheet: an agent may name themselves `=HYPERLINK(…)`) defused with a `'`.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_says_and_formulas_are_defused() {
        assert_eq!(csv_field("Ann"), "Ann");
        assert_eq!(csv_field("Smith, Ann"), "\"Smith, Ann\"");
        assert_eq!(csv_field("Ann \"The Fixer\""), "\"Ann \"\"The Fixer\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-2,3"), "\"'-2,3\"");
    }

    #[test]
    fn a_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
        assert_eq!(secs(1_249.0), 1.2);
        assert_eq!(secs(1_250.0), 1.3);
    }

    #[test]
    fn bounds_are_dates_or_milliseconds_and_a_date_as_to_is_the_end_of_that_day() {
        assert_eq!(
            parse_bound("from", "2024-01-01", false).unwrap(),
            Timestamp::from_millis(1_704_067_200_000)
        );
        assert_eq!(
            parse_bound("to", "2024-01-01", true).unwrap(),
            Timestamp::from_millis(1_704_067_200_000 + DAY_MS)
        );
        assert_eq!(
            parse_bound("to", "1704067200000", true).unwrap(),
            Timestamp::from_millis(1_704_067_200_000)
        );
        assert_eq!(
            parse_bound("from", "1704067200000.00", false).unwrap(),
            Timestamp::from_millis(1_704_067_200_000)
        );
        assert_eq!(
            parse_bound("to", "9999-12-31", true).unwrap(),
            Timestamp::from_millis(MAX_MS)
        );
        for bad in [
            "",
            "2024-02-30",
            "2024-1-01",
            "2024-01-01T00:00:00Z",
            "-5",
            "yesterday",
            "99999999999999999999",
            "253402300800000",
            "1.5",
            "1.",
            ".0",
        ] {
            let e = parse_bound("from", bad, false).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "invalid_range"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rollout_buckets_are_stable_and_spread_over_0_to_99() {
        let id = ContactId::parse("ct_0190a0f8a1b27c3d8e4f5a6b7c8d9e0f").unwrap();
        assert_eq!(rollout_bucket(id), rollout_bucket(id));
        let mut counts = [0u32; 100];
        for n in 0..10_000u128 {
            let id = ContactId::from_uuid(uuid::Uuid::from_u128(
                0x0190_a0f8_a1b2_7c3d_8e4f_0000_0000_0000 | (n * 7919),
            ));
            counts[usize::from(rollout_bucket(id))] += 1;
        }
        assert!(counts.iter().all(|c| (50..=150).contains(c)), "{counts:?}");
    }
}
