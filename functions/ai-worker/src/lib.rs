//! ai-worker: the AI answers first, with the whole cross-channel context, and hands over
//! cleanly.
//!
//! One call of [`handle`] processes one AI job (a customer's message in a conversation the
//! bot has): it re-reads the conversation (a person may have taken it), checks the budgets,
//! builds the context ([`context`]: current and previous channels, the running summary —
//! folded incrementally, never recomputed from every message — the last messages across
//! channels, the profile, retrieved FAQ entries), and asks the model (or, with no model, the
//! offline knowledge base) for a structured decision. A reply passes the guardrails'
//! post-check; anything else — the model's `handoff`, no FAQ match, a timeout, a refused
//! reply, an unusable answer, a spent budget — hands the conversation to people with the
//! reason. The decision is applied by the router's [`apply_ai_decision`], which re-reads the
//! conversation once more and keeps a reply as an internal note if a person took it
//! meanwhile. Every call is logged ([`AiStore::record_ai_call`]) with its prompt, answer,
//! tokens, cost and latency, for review.
//!
//! [`Assist`] also serves agents: "summarise" and "suggest a reply".

pub mod config;
pub mod context;
pub mod decision;

use std::sync::Arc;
use std::time::Instant;

use omnidesk_ai::{KbOutcome, KnowledgeBase};
use omnidesk_core::{
    AiCall, AiJob, AiStore, Clock, ContactStore, ConversationStore, IdGen, JobError, JobOutcome,
    Llm, MessageStore, PageRequest, ProviderError, StoreError, TokenUsage, TranslationStore,
};
use omnidesk_domain::{
    Conversation, ConversationId, ConversationStatus, HistorySummary, LanguageTag, Message,
    MessageId, extractive_summary,
};
use omnidesk_router::{AiApplied, AiDecision, RouterDeps, apply_ai_decision};
use parking_lot::Mutex;

pub use config::{AiConfig, AiSettings};
pub use context::Context;
pub use decision::Decision;

/// The knowledge base built from the FAQ, rebuilt when the FAQ's version changed (checked at
/// most every [`KbCache::CHECK_EVERY`]).
#[derive(Default)]
pub struct KbCache {
    inner: Mutex<Option<Cached>>,
}

struct Cached {
    version: u64,
    checked: Instant,
    kb: Arc<KnowledgeBase>,
    entries: Arc<Vec<omnidesk_core::FaqEntry>>,
}

impl KbCache {
    /// How long a built knowledge base is used before its version is checked again.
    pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    /// The knowledge base (and its entries) as the store has it now.
    pub async fn get(
        &self,
        store: &dyn AiStore,
    ) -> Result<(Arc<KnowledgeBase>, Arc<Vec<omnidesk_core::FaqEntry>>), StoreError> {
        let (_, kb, entries) = self.load(store, false).await?;
        Ok((kb, entries))
    }

    /// The FAQ's version and entries, the version checked now (the entries read again only
    /// when it changed).
    pub async fn current(
        &self,
        store: &dyn AiStore,
    ) -> Result<(u64, Arc<Vec<omnidesk_core::FaqEntry>>), StoreError> {
        let (version, _, entries) = self.load(store, true).await?;
        Ok((version, entries))
    }

    /// The cached knowledge base, its version checked when `check` or when it is older than
    /// [`Self::CHECK_EVERY`].
    async fn load(
        &self,
        store: &dyn AiStore,
        check: bool,
    ) -> Result<(u64, Arc<KnowledgeBase>, Arc<Vec<omnidesk_core::FaqEntry>>), StoreError> {
        let known = {
            let guard = self.inner.lock();
            guard.as_ref().map(|c| {
                (
                    c.version,
                    c.checked.elapsed() < Self::CHECK_EVERY,
                    c.kb.clone(),
                    c.entries.clone(),
                )
            })
        };
        if let Some((version, fresh, kb, entries)) = known {
            if fresh && !check {
                return Ok((version, kb, entries));
            }
            if store.faq_version().await? == version {
                if let Some(c) = self.inner.lock().as_mut() {
                    c.checked = Instant::now();
                }
                return Ok((version, kb, entries));
            }
        }
        let faq = store.faq().await?;
        let kb = Arc::new(KnowledgeBase::build(&faq.entries));
        let entries = Arc::new(faq.entries);
        *self.inner.lock() = Some(Cached {
            version: faq.version,
            checked: Instant::now(),
            kb: kb.clone(),
            entries: entries.clone(),
        });
        Ok((faq.version, kb, entries))
    }

    /// Forgets the built knowledge base (after an edit in this process).
    pub fn invalidate(&self) {
        *self.inner.lock() = None;
    }
}

/// What the AI thinks with: the model (none: the offline knowledge base), the FAQ, the call
/// log, and read access to conversations. Shared by the worker and the agent API's assist.
pub struct Assist {
    pub conversations: Arc<dyn ConversationStore>,
    pub messages: Arc<dyn MessageStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub ai: Arc<dyn AiStore>,
    /// Daily token counters (the translation store's usage counters, under `ai-tokens`);
    /// `None`: no daily budget.
    pub usage: Option<Arc<dyn TranslationStore>>,
    pub llm: Option<Arc<dyn Llm>>,
    pub kb: KbCache,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub settings: AiSettings,
}

impl Assist {
    /// The assist on the AWS adapters (DynamoDB for everything; Bedrock with the function's
    /// role when it is the model): what the ai-worker and agent-api Lambdas run with.
    pub fn on_aws(aws: &omnidesk_lambda::AwsAdapters, config: &AiConfig) -> Result<Self, String> {
        Ok(Self {
            conversations: aws.store.clone(),
            messages: aws.store.clone(),
            contacts: aws.store.clone(),
            ai: aws.store.clone(),
            usage: Some(aws.store.clone()),
            llm: config.llm(Some(&aws.sdk))?,
            kb: KbCache::default(),
            clock: aws.clock.clone(),
            ids: aws.ids.clone(),
            settings: config.settings.clone(),
        })
    }
}

/// What the worker needs: the assist, and the router's ports to apply a decision.
#[derive(Clone)]
pub struct AiDeps {
    pub assist: Arc<Assist>,
    pub router: RouterDeps,
}

/// The longest prompt or answer kept in the call log, in characters.
pub const MAX_LOGGED_CHARS: usize = 32_000;

/// The usage counter of AI tokens.
const TOKEN_COUNTER: &str = "ai-tokens";
/// Messages read for the context (the window, and what the summary has not folded yet).
const READ_MESSAGES: usize = 60;

/// Parses an AI queue body and handles it.
pub async fn handle_body(deps: &AiDeps, body: &str) -> Result<JobOutcome, JobError> {
    let job: AiJob = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not an AI job: {e}")))?;
    handle(deps, &job).await
}

/// The outcome of one model or knowledge-base call, before it is applied.
struct Thought {
    decision: AiDecision,
    call: AiCall,
}

/// Answers (or hands over) the customer's message of `job`.
pub async fn handle(deps: &AiDeps, job: &AiJob) -> Result<JobOutcome, JobError> {
    let a = &deps.assist;
    let Some(c) = a
        .conversations
        .get_conversation(job.conversation_id)
        .await?
    else {
        return Ok(JobOutcome::Done);
    };
    // A person has it (or it was resolved): the AI stays silent.
    if c.status != ConversationStatus::Bot {
        return Ok(JobOutcome::Done);
    }
    let Some(message) = a.messages.get_message(c.id, job.message_id).await? else {
        return Ok(JobOutcome::Done);
    };
    // A burst of messages gets one answer, to the newest (whose job sees them all).
    if c.last_inbound_at.is_some_and(|t| t > message.created_at) {
        return Ok(JobOutcome::Done);
    }
    let mut thought = if c.ai_turns >= a.settings.max_turns {
        Some(format!(
            "the AI answered {} times without resolving it",
            c.ai_turns
        ))
    } else if c.ai_tokens >= a.settings.conversation_tokens {
        Some("the conversation's AI token budget is spent".to_owned())
    } else if a.daily_budget_spent().await? {
        Some("the AI's daily token budget is spent".to_owned())
    } else {
        None
    }
    .map(|reason| Thought {
        call: a.call(&c, Some(message.id), "answer", "budget", String::new()),
        decision: AiDecision::Handover { reason },
    });
    let mut summary = None;
    let mut tokens = 0;
    // The conversation's last messages, read once for the context and the handover's summary.
    let mut history: Option<Vec<Message>> = None;
    if thought.is_none() {
        let read = history.insert(
            a.messages
                .list_messages(c.id, &PageRequest::first(READ_MESSAGES))
                .await?
                .items,
        );
        let contact = a.contacts.get_contact(c.contact_id).await?;
        let mut ctx = context::build(
            &c,
            contact.as_ref(),
            Some(&message),
            read,
            a.settings.history,
            a.settings.history_tokens,
        );
        // The summary follows the window: what left it is folded in now.
        if !ctx.unsummarised.is_empty() {
            let (s, used) = a.fold_summary(&c, &ctx.unsummarised).await;
            tokens += used;
            ctx.summary = Some(s.text.clone());
            summary = Some(s);
        }
        thought = Some(a.think(&c, &message, &mut ctx, false, job.faq_only).await?);
    }
    let Some(mut thought) = thought else {
        return Ok(JobOutcome::Done);
    };
    tokens += thought.call.usage.total();
    // At a handover the agent's card is the summary of everything so far.
    if matches!(thought.decision, AiDecision::Handover { .. }) && summary.is_none() {
        let history = match history {
            Some(h) => h,
            None => {
                a.messages
                    .list_messages(c.id, &PageRequest::first(READ_MESSAGES))
                    .await?
                    .items
            }
        };
        let fresh = context::unsummarised(&c, history);
        if !fresh.is_empty() {
            let (s, used) = a.fold_summary(&c, &fresh).await;
            tokens += used;
            summary = Some(s);
        }
    }
    let applied = apply_ai_decision(
        &deps.router,
        c.id,
        thought.decision.clone(),
        tokens,
        summary,
    )
    .await?;
    thought.call.outcome = match (&applied, &thought.decision) {
        (AiApplied::Sent(_), _) => "reply".to_owned(),
        (AiApplied::HandedOver { .. }, AiDecision::Handover { reason }) => {
            format!("handoff: {reason}")
        }
        (AiApplied::HandedOver { .. }, _) => "handoff".to_owned(),
        (AiApplied::Dropped(Some(_)), _) => {
            "dropped: a person took the conversation (kept as a note)".to_owned()
        }
        (AiApplied::Dropped(None), _) => "dropped: a person took the conversation".to_owned(),
    };
    a.record(&thought.call).await;
    Ok(JobOutcome::Done)
}

/// A suggestion for the agent's composer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suggestion {
    /// `None`: nothing to suggest (see `reason`).
    pub text: Option<String>,
    /// `faq`, `openai`, `bedrock`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Assist {
    /// `kb`, or the model's provider.
    pub fn provider(&self) -> &str {
        self.llm.as_ref().map_or("kb", |l| l.name())
    }

    async fn daily_budget_spent(&self) -> Result<bool, JobError> {
        let (Some(limit), Some(usage)) = (self.settings.daily_tokens, &self.usage) else {
            return Ok(false);
        };
        Ok(usage
            .usage(TOKEN_COUNTER, &self.clock.now().utc_day())
            .await?
            >= limit)
    }

    fn call(
        &self,
        c: &Conversation,
        message: Option<MessageId>,
        kind: &str,
        provider: &str,
        prompt: String,
    ) -> AiCall {
        AiCall {
            id: self.ids.message_id().to_string(),
            conversation_id: c.id,
            message_id: message,
            at: self.clock.now(),
            kind: kind.to_owned(),
            provider: provider.to_owned(),
            model: self
                .llm
                .as_ref()
                .filter(|_| provider != "kb" && provider != "budget")
                .map(|l| l.model().to_owned())
                .unwrap_or_default(),
            prompt,
            answer: String::new(),
            outcome: String::new(),
            usage: TokenUsage::default(),
            cost_micros: 0,
            latency_ms: 0,
        }
    }

    /// Records a call (best effort: the answer matters more than its log line). Prompts and
    /// answers are kept up to [`MAX_LOGGED_CHARS`] each (a store item has a size limit).
    async fn record(&self, call: &AiCall) {
        let mut call = call.clone();
        for text in [&mut call.prompt, &mut call.answer] {
            if text.chars().count() > MAX_LOGGED_CHARS {
                *text = text.chars().take(MAX_LOGGED_CHARS).collect::<String>() + "…";
            }
        }
        if let Err(e) = self.ai.record_ai_call(&call).await {
            tracing::warn!(error = %e, "AI call not logged");
        }
    }

    /// Calls the model within the timeout, counting its tokens against the daily budget.
    async fn complete(
        &self,
        llm: &dyn Llm,
        request: &omnidesk_core::ChatRequest,
        call: &mut AiCall,
    ) -> Result<omnidesk_core::ChatResponse, ProviderError> {
        let started = Instant::now();
        let answer = match tokio::time::timeout(self.settings.timeout, llm.complete(request)).await
        {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Transient(format!(
                "no answer within {} s",
                self.settings.timeout.as_secs()
            ))),
        };
        call.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(r) = &answer {
            call.answer = r.text.clone();
            call.usage = r.usage;
            call.cost_micros = AiConfig::cost_micros(&self.settings, r.usage);
            if let Some(usage) = &self.usage
                && r.usage.total() > 0
                && let Err(e) = usage
                    .add_usage(
                        TOKEN_COUNTER,
                        &self.clock.now().utc_day(),
                        r.usage.total(),
                        u64::MAX,
                    )
                    .await
            {
                tracing::warn!(error = %e, "AI tokens not counted");
            }
        }
        answer
    }

    /// Decides on `message` with the model, or the knowledge base when there is none.
    /// `suggest`: for an agent (the call is logged as a suggestion).
    async fn think(
        &self,
        c: &Conversation,
        message: &Message,
        ctx: &mut Context,
        suggest: bool,
        faq_only: bool,
    ) -> Result<Thought, JobError> {
        let (kb, entries) = self.kb.get(self.ai.as_ref()).await?;
        let language = c.language.as_ref().map(LanguageTag::as_str);
        let kind = if suggest { "suggestion" } else { "answer" };
        let llm = if faq_only { None } else { self.llm.as_ref() };
        let Some(llm) = llm else {
            let query = message.preview_text();
            let mut call = self.call(c, Some(message.id), kind, "kb", query.clone());
            let started = Instant::now();
            let outcome = kb.answer(&query, language);
            call.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let decision = match outcome {
                KbOutcome::Answer {
                    entry_id,
                    answer,
                    score,
                    ..
                } => {
                    call.answer = format!("{answer}\n[faq {entry_id}, score {score:.2}]");
                    let language = entries
                        .iter()
                        .find(|e| e.id == entry_id)
                        .and_then(|e| e.language.clone());
                    AiDecision::Reply {
                        text: answer,
                        language,
                        translate_to: c.language.clone(),
                    }
                }
                KbOutcome::NoMatch { best_score, .. } => {
                    call.answer = format!("no match (best score {best_score:.2})");
                    AiDecision::Handover {
                        reason: "no answer in the knowledge base".to_owned(),
                    }
                }
            };
            return Ok(Thought { decision, call });
        };
        ctx.faq = kb
            .search(&ctx.latest, self.settings.faq_in_prompt)
            .into_iter()
            .filter_map(|hit| entries.iter().find(|e| e.id == hit.entry_id))
            .map(|e| {
                (
                    e.questions.first().cloned().unwrap_or_default(),
                    e.answer.clone(),
                )
            })
            .collect();
        let request = if suggest {
            context::suggestion_request(ctx, self.settings.max_answer_tokens)
        } else {
            context::answer_request(ctx, self.settings.max_answer_tokens)
        };
        let prompt = request
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n");
        let mut call = self.call(c, Some(message.id), kind, llm.name(), prompt);
        let decision = match self.complete(llm.as_ref(), &request, &mut call).await {
            Err(e) => AiDecision::Handover {
                reason: format!("the AI provider failed ({})", short(&e.to_string())),
            },
            Ok(r) if r.finish_reason == "content_filter" => AiDecision::Handover {
                reason: "the AI provider's content filter refused the answer".to_owned(),
            },
            Ok(r) => match decision::parse(&r.text) {
                Err(why) => AiDecision::Handover { reason: why },
                Ok(Decision::Handoff(reason)) => AiDecision::Handover { reason },
                Ok(Decision::Reply(text)) => {
                    // Only what the business said may be repeated: FAQ answers, the
                    // summary, and the agents', bot's and AI's earlier messages.
                    let context = business_context(ctx);
                    match omnidesk_ai::check_reply(&text, &context) {
                        Ok(()) => AiDecision::Reply {
                            text,
                            language: ctx
                                .language
                                .as_deref()
                                .and_then(|l| LanguageTag::parse(l).ok()),
                            translate_to: None,
                        },
                        Err(refusal) => AiDecision::Handover {
                            reason: format!(
                                "the guardrails refused the answer: {}",
                                refusal.reason
                            ),
                        },
                    }
                }
            },
        };
        Ok(Thought { decision, call })
    }

    /// Folds `messages` (oldest first) into the conversation's summary: with the model when
    /// there is one (the extractive fold when it fails), else extractively. Returns the new
    /// summary and the tokens spent.
    async fn fold_summary(&self, c: &Conversation, messages: &[Message]) -> (HistorySummary, u64) {
        let now = self.clock.now();
        let through = messages.iter().map(|m| m.created_at).max().unwrap_or(now);
        let previous = c.summary.as_ref().map(|s| s.text.as_str());
        if let Some(llm) = &self.llm {
            let request = context::summary_request(previous, messages);
            let mut call = self.call(
                c,
                None,
                "summary",
                llm.name(),
                request.messages[1].content.clone(),
            );
            match self.complete(llm.as_ref(), &request, &mut call).await {
                Ok(r) if !r.text.trim().is_empty() && r.finish_reason != "content_filter" => {
                    call.outcome = "summary".to_owned();
                    self.record(&call).await;
                    return (
                        HistorySummary {
                            text: r.text.trim().to_owned(),
                            through,
                            updated_at: now,
                            generated: true,
                        },
                        r.usage.total(),
                    );
                }
                Ok(_) => call.outcome = "failed: empty summary".to_owned(),
                Err(e) => call.outcome = format!("failed: {}", short(&e.to_string())),
            }
            self.record(&call).await;
        }
        (
            HistorySummary {
                text: extractive_summary(previous, messages),
                through,
                updated_at: now,
                generated: false,
            },
            0,
        )
    }

    /// "Summarise": folds everything not yet in the summary into it, stores it on the
    /// conversation and returns it.
    pub async fn summarise(&self, id: ConversationId) -> Result<Option<HistorySummary>, JobError> {
        let Some(c) = self.conversations.get_conversation(id).await? else {
            return Ok(None);
        };
        let history = self
            .messages
            .list_messages(id, &PageRequest::first(200))
            .await?
            .items;
        let fresh = context::unsummarised(&c, history);
        if fresh.is_empty() {
            return Ok(Some(c.summary.clone().unwrap_or_else(|| HistorySummary {
                text: String::new(),
                through: c.created_at,
                updated_at: self.clock.now(),
                generated: false,
            })));
        }
        let (summary, tokens) = self.fold_summary(&c, &fresh).await;
        // Stored with an optimistic write, re-applied on a conflict.
        let mut current = c;
        for _ in 0..8 {
            let mut next = current.clone();
            next.summary = Some(summary.clone());
            next.ai_tokens = next.ai_tokens.saturating_add(tokens);
            match self.conversations.update_conversation(&next).await {
                Ok(_) => return Ok(Some(summary)),
                Err(StoreError::Conflict(_)) => {
                    match self.conversations.get_conversation(id).await? {
                        Some(c) => current = c,
                        None => return Ok(None),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(JobError::Transient(
            "the conversation kept changing".to_owned(),
        ))
    }

    /// "Suggest a reply" to the customer's newest message (never sent by itself).
    pub async fn suggest(&self, id: ConversationId) -> Result<Option<Suggestion>, JobError> {
        let Some(c) = self.conversations.get_conversation(id).await? else {
            return Ok(None);
        };
        let history = self
            .messages
            .list_messages(id, &PageRequest::first(READ_MESSAGES))
            .await?
            .items;
        let source = if self.llm.is_some() {
            self.provider().to_owned()
        } else {
            "faq".to_owned()
        };
        let Some(latest) = history
            .iter()
            .find(|m| context::is_said(m) && m.direction == omnidesk_domain::Direction::Inbound)
            .cloned()
        else {
            return Ok(Some(Suggestion {
                text: None,
                source,
                reason: Some("the customer has not written anything yet".to_owned()),
            }));
        };
        let contact = self.contacts.get_contact(c.contact_id).await?;
        let mut ctx = context::build(
            &c,
            contact.as_ref(),
            Some(&latest),
            &history,
            self.settings.history,
            self.settings.history_tokens,
        );
        let mut thought = self.think(&c, &latest, &mut ctx, true, false).await?;
        let suggestion = match thought.decision {
            AiDecision::Reply { text, .. } => Suggestion {
                text: Some(text),
                source,
                reason: None,
            },
            AiDecision::Handover { reason } => Suggestion {
                text: None,
                source,
                reason: Some(match self.llm {
                    None => "no FAQ entry matches the customer's last message".to_owned(),
                    Some(_) => reason,
                }),
            },
        };
        thought.call.outcome = match &suggestion.text {
            Some(_) => "suggestion".to_owned(),
            None => "no suggestion".to_owned(),
        };
        self.record(&thought.call).await;
        Ok(Some(suggestion))
    }
}

/// What the business said in the context (never the customer's words): what a reply may
/// repeat without the guardrails refusing it.
fn business_context(ctx: &Context) -> String {
    let mut out: Vec<&str> = ctx.faq.iter().map(|(_, a)| a.as_str()).collect();
    if let Some(s) = &ctx.summary {
        out.push(s);
    }
    out.extend(
        ctx.recent
            .iter()
            .filter(|l| l.who != "customer")
            .map(|l| l.text.as_str()),
    );
    out.join("\n")
}

/// The first line of an error, at most 160 characters.
fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}
