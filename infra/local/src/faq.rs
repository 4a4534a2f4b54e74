//! `omnidesk faq`: the knowledge base the AI answers from, from the command line — one entry
//! at a time, or imported from CSV (`question,answer[,language]`) or JSON.

use anyhow::{Context, bail};
use omnidesk_core::{AiStore, FaqEntry};
use omnidesk_domain::Timestamp;

/// One row of an import: a question variant and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub question: String,
    pub answer: String,
    pub language: Option<String>,
}

/// Parses RFC 4180 CSV: fields separated by commas, optionally quoted with `"` (a quote inside
/// a quoted field doubled), records by CRLF or LF; a BOM is skipped. Returns the records.
pub fn parse_csv(text: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut quoted = false;
    let mut quote_line = 1;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                quote_line = line;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push(std::mem::take(&mut record));
                }
                record.clear();
                line += 1;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        bail!("line {quote_line}: a quoted field is not closed");
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// The rows of a CSV import: a header naming `question` and `answer` (and optionally
/// `language`), in any order; errors name the line.
pub fn csv_rows(text: &str) -> anyhow::Result<Vec<Row>> {
    let records = parse_csv(text)?;
    let Some((header, rows)) = records.split_first() else {
        bail!("the file is empty: expected a header `question,answer[,language]`");
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(q), Some(a)) = (col("question"), col("answer")) else {
        bail!(
            "line 1: the header must name the columns `question` and `answer` (and optionally `language`), got {:?}",
            header.join(",")
        );
    };
    let l = col("language");
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let line = i + 2;
        let get = |c: usize| r.get(c).map(|s| s.trim().to_owned()).unwrap_or_default();
        let (question, answer) = (get(q), get(a));
        if question.is_empty() || answer.is_empty() {
            bail!("line {line}: a row needs a question and an answer");
        }
        out.push(Row {
            question,
            answer,
            language: l.map(get).filter(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

/// The rows of a JSON import: a list of `{"question": …}` or `{"questions": […]}` objects with
/// `"answer"` and an optional `"language"`.
pub fn json_rows(text: &str) -> anyhow::Result<Vec<Row>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        #[serde(default)]
        question: Option<String>,
        #[serde(default)]
        questions: Vec<String>,
        answer: String,
        #[serde(default)]
        language: Option<String>,
    }
    let items: Vec<Item> = serde_json::from_str(text).context(
        "the JSON file must be a list of {\"questions\": [...], \"answer\": ..., \"language\": ...}",
    )?;
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let qs: Vec<String> = item.question.into_iter().chain(item.questions).collect();
        if qs.is_empty() || item.answer.trim().is_empty() {
            bail!("item {}: needs a question and an answer", i + 1);
        }
        for question in qs {
            out.push(Row {
                question,
                answer: item.answer.clone(),
                language: item.language.clone(),
            });
        }
    }
    Ok(out)
}

/// Groups rows into entries — the rows with the same answer (and language) are one entry with
/// several question variants — merged into the existing entries with that answer, so that
/// importing a file twice changes nothing. Returns the entries to store, checked as the API
/// checks them.
pub fn merge(
    rows: Vec<Row>,
    existing: &[FaqEntry],
    now: Timestamp,
) -> anyhow::Result<Vec<FaqEntry>> {
    /// One entry being gathered: its id, enabled flag, answer, language and variants.
    struct Group {
        id: String,
        enabled: bool,
        answer: String,
        language: Option<String>,
        questions: Vec<String>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        let language = row.language.as_deref().map(str::trim);
        let answer = row.answer.trim();
        match groups
            .iter_mut()
            .find(|g| g.answer == answer && g.language.as_deref() == language)
        {
            Some(g) => g.questions.push(row.question),
            None => {
                let known = existing.iter().find(|e| {
                    e.answer.trim() == answer && e.language.as_ref().map(|l| l.as_str()) == language
                });
                let mut questions = known.map(|e| e.questions.clone()).unwrap_or_default();
                questions.push(row.question);
                groups.push(Group {
                    id: known.map_or_else(omnidesk_agent_api::new_faq_id, |e| e.id.clone()),
                    enabled: known.is_none_or(|e| e.enabled),
                    answer: answer.to_owned(),
                    language: language.map(str::to_owned),
                    questions,
                });
            }
        }
    }
    // Checked once every variant is in, as the API checks an entry (it trims and drops
    // repeated questions).
    groups
        .into_iter()
        .map(|g| {
            omnidesk_agent_api::faq_entry(
                g.id,
                &g.questions,
                &g.answer,
                g.language.as_deref(),
                g.enabled,
                now,
            )
            .map_err(|err| anyhow::anyhow!("{}", err.message))
        })
        .collect()
}

/// Imports `rows` into `store` (one FAQ version step). Returns (entries written, variants).
pub async fn import(
    store: &dyn AiStore,
    rows: Vec<Row>,
    now: Timestamp,
) -> anyhow::Result<(usize, usize)> {
    let variants = rows.len();
    let existing = store.faq().await?.entries;
    let entries = merge(rows, &existing, now)?;
    // Large files go in slices, so that no single write grows without bound.
    for chunk in entries.chunks(1000) {
        store.put_faq_entries(chunk).await?;
    }
    Ok((entries.len(), variants))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_commas_and_newlines_parses() {
        let rows = parse_csv(
            "question,answer\r\n\"Where, exactly?\",\"Line one\nline \"\"two\"\"\"\nplain,text\n\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["question".to_owned(), "answer".to_owned()],
                vec![
                    "Where, exactly?".to_owned(),
                    "Line one\nline \"two\"".to_owned()
                ],
                vec!["plain".to_owned(), "text".to_owned()],
            ]
        );
        assert!(
            parse_csv("a,\"open")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        // The line where the quote opened, not where the file ended.
        let err = parse_csv("a,b\nc,\"open\nmore\nlines").unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }

    #[test]
    fn rows_with_the_same_answer_are_one_entry_and_a_second_import_changes_nothing() {
        let text = "language,question,answer\nen,How long is delivery?,2-3 days\nen,When will it arrive?,2-3 days\n,Opening hours?,9 to 5\n";
        let rows = csv_rows(text).unwrap();
        let now = Timestamp::from_millis(1);
        let first = merge(rows.clone(), &[], now).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(
            first[0].questions,
            vec!["How long is delivery?", "When will it arrive?"]
        );
        assert_eq!(first[0].language.as_ref().map(|l| l.as_str()), Some("en"));
        assert_eq!(first[1].language, None);
        let again = merge(rows, &first, now).unwrap();
        assert_eq!(
            again.iter().map(|e| &e.id).collect::<Vec<_>>(),
            first.iter().map(|e| &e.id).collect::<Vec<_>>()
        );
        assert_eq!(again[0].questions.len(), 2);
    }

    #[test]
    fn bad_files_name_the_line() {
        assert!(
            csv_rows("q,a\nx,y\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            csv_rows("question,answer\nx,\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(
            json_rows("[{\"answer\":\"a\"}]")
                .unwrap_err()
                .to_string()
                .contains("item 1")
        );
        let rows =
            json_rows("[{\"questions\":[\"a?\",\"b?\"],\"answer\":\"c\",\"language\":\"de\"}]")
                .unwrap();
        assert_eq!(rows.len(), 2);
        let bad_language = vec![Row {
            question: "q".into(),
            answer: "a".into(),
            language: Some("not a tag!".into()),
        }];
        assert!(
            merge(bad_language, &[], Timestamp::from_millis(1))
                .unwrap_err()
                .to_string()
                .contains("language")
        );
    }
}
