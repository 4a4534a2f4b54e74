//! The AI's pure parts (no I/O): the offline knowledge-base answerer, asking for a person, guardrails.

/// Placeholder until the person module lands (replaced by `person::asks_for_person`).
pub fn asks_for_person(text: &str) -> bool {
    let t = text.to_lowercase();
    ["human", "operator", "оператор", "人工", "agente"]
        .iter()
        .any(|w| t.contains(w))
}

/// Placeholder until the kb module lands.
pub struct KnowledgeBase(Vec<omnidesk_core::FaqEntry>);
/// Placeholder.
pub enum KbOutcome {
    Answer {
        entry_id: String,
        answer: String,
        score: f64,
        margin: f64,
        matched_question: String,
    },
    NoMatch {
        best_score: f64,
    },
}
/// Placeholder.
pub struct Hit {
    pub entry_id: String,
    pub score: f64,
}
impl KnowledgeBase {
    pub fn build(entries: &[omnidesk_core::FaqEntry]) -> Self {
        Self(entries.to_vec())
    }
    pub fn answer(&self, query: &str, _language: Option<&str>) -> KbOutcome {
        match self
            .0
            .iter()
            .find(|e| e.questions.iter().any(|q| q.eq_ignore_ascii_case(query)))
        {
            Some(e) => KbOutcome::Answer {
                entry_id: e.id.clone(),
                answer: e.answer.clone(),
                score: 1.0,
                margin: 1.0,
                matched_question: query.to_owned(),
            },
            None => KbOutcome::NoMatch { best_score: 0.0 },
        }
    }
    pub fn search(&self, _query: &str, _k: usize) -> Vec<Hit> {
        Vec::new()
    }
}
/// Placeholder.
pub struct Refusal {
    pub reason: String,
}
/// Placeholder.
pub fn check_reply(reply: &str, _context: &str) -> Result<(), Refusal> {
    if reply.contains("refund") {
        return Err(Refusal {
            reason: "promises a refund".into(),
        });
    }
    Ok(())
}
