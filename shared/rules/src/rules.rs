//! The compiled rules and their evaluation.

use std::cell::{Cell, OnceCell};
use std::collections::{BTreeMap, BTreeSet};

use omnidesk_domain::{Channel, ContactId, ConversationStatus, LanguageTag, Tag, Timestamp};
use regex::Regex;

use crate::screen::{Candidates, Screen};
use crate::text::{Bits, MessageWords, Vocabulary};
use crate::{Known, Priority, RulesError, bucket};

/// A deployment's rules, validated and compiled (regexes and keywords ready).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Every rule's checks, rule after rule, in one array (read in order while evaluating).
    checks: Vec<Check>,
    /// Per rule, in the same order, the range of its checks in `checks`.
    plans: Vec<(u32, u32)>,
    /// Keyword word numbers, for [`Check::Keywords`].
    keyword_words: Vec<u32>,
    /// The teams whose hours rules ask about (`None`: the default hours), for [`Check::Hours`].
    hours_teams: Vec<Option<String>>,
    /// Per vocabulary word, the rules that have a keyword whose longest word it is: a rule with
    /// keywords can only match a message that has one of these words.
    anchored: Vec<Vec<u32>>,
    /// The rules without keywords (a bit set): they are tried on every message.
    unanchored: Vec<u64>,
    regexes: Vec<Regex>,
    /// Which regexes can match a message, in one pass.
    screen: Screen,
    pub(crate) vocabulary: Vocabulary,
}

/// One rule: when its conditions hold, its actions apply.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The `name` from the file, or "rule N" (N counted from 1).
    pub name: String,
    /// Position in the file, from 0.
    pub index: usize,
    /// The line where the rule starts.
    pub line: usize,
    pub when: Conditions,
    pub then: Actions,
}

/// A rule's conditions; every one that is present must hold (none present: always).
/// Empty lists and `None` mean "not a condition".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub channels: Vec<Channel>,
    /// Bot ids, website ids or mailboxes, lower-cased.
    pub sources: Vec<String>,
    /// Bot commands, lower-cased, without the slash.
    pub commands: Vec<String>,
    /// Keywords as written; any of them matches.
    pub keywords: Vec<String>,
    /// The regex as written.
    pub regex: Option<String>,
    /// Primary language subtags (`ru`).
    pub languages: Vec<String>,
    /// The contact has all of these.
    pub tags: Vec<Tag>,
    /// The contact has at least one of these.
    pub any_tags: Vec<Tag>,
    /// The contact's attributes equal these.
    pub attributes: Vec<(String, String)>,
    pub statuses: Vec<ConversationStatus>,
    pub hours: Option<HoursCondition>,
    /// The team whose hours `hours` asks about, as written (`None`: see [`Conditions::hours_team`]).
    pub hours_of: Option<String>,
    /// Percent of contacts (by [`bucket`]).
    pub rollout: Option<u8>,
    /// The team whose hours are asked: `hours_of`, else the rule's `then.team`, else `None`
    /// (the caller's default hours).
    pub hours_team: Option<String>,
}

/// `hours = "open"` or `"closed"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoursCondition {
    Open,
    Closed,
}

/// What a matching rule asks for. The router applies them; this crate only states them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    /// A reply to send.
    pub reply: Option<LocalText>,
    /// Buttons offered with the reply.
    pub buttons: Vec<ButtonSpec>,
    /// Answer from the FAQ (knowledge base).
    pub faq: bool,
    /// Hand the message to the AI.
    pub ai: bool,
    /// Tags to add to the contact.
    pub tags: Vec<Tag>,
    pub priority: Option<Priority>,
    /// Route to this team's queue.
    pub team: Option<String>,
    /// An agent skill the conversation needs.
    pub skill: Option<String>,
    /// Assign to this agent (login e-mail, lower-cased).
    pub assign: Option<String>,
    /// Hand to a person (the queue) now.
    pub handoff: bool,
    /// Resolve the conversation.
    pub resolve: bool,
}

/// A text, plain or per language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalText {
    Plain(String),
    /// In the file's order.
    PerLanguage(Vec<(LanguageTag, String)>),
}

impl LocalText {
    /// The text for a conversation in `language`: the entry for that exact tag, else for its
    /// primary language (`ru` for `ru-RU`, and `pt-BR` for `pt`), else English, else the first.
    pub fn pick(&self, language: Option<&LanguageTag>) -> &str {
        let texts = match self {
            LocalText::Plain(text) => return text,
            LocalText::PerLanguage(texts) => texts,
        };
        let find = |wanted: &dyn Fn(&LanguageTag) -> bool| {
            texts
                .iter()
                .find(|(tag, _)| wanted(tag))
                .map(|(_, text)| text.as_str())
        };
        language
            .and_then(|lang| {
                find(&|tag| tag == lang).or_else(|| find(&|tag| tag.primary() == lang.primary()))
            })
            .or_else(|| find(&|tag| tag.primary() == "en"))
            .or_else(|| texts.first().map(|(_, text)| text.as_str()))
            .unwrap_or_default()
    }
}

/// A button offered with a reply; pressing it sends `data` back (Telegram's callback data, at
/// most 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonSpec {
    pub text: LocalText,
    pub data: String,
}

/// One inbound message, as the rules see it.
pub struct Input<'a> {
    pub channel: Channel,
    /// The bot id, website id or mailbox it came to.
    pub source: Option<&'a str>,
    pub text: &'a str,
    /// The conversation's language.
    pub language: Option<&'a LanguageTag>,
    /// The contact's tags.
    pub tags: &'a BTreeSet<Tag>,
    /// The contact's attributes.
    pub attributes: &'a BTreeMap<String, String>,
    pub status: ConversationStatus,
    pub contact: ContactId,
    pub now: Timestamp,
    /// Whether the named team (`None`: the deployment's default hours) is open at `now`.
    /// Called at most once per team per evaluation, and only when a rule with an `hours`
    /// condition is reached.
    pub hours: &'a dyn Fn(Option<&str>) -> bool,
}

impl RuleSet {
    /// Reads and validates a rule file; any error refuses the whole file.
    pub fn parse(
        source: &str,
        format: crate::Format,
        known: &Known<'_>,
    ) -> Result<RuleSet, RulesError> {
        crate::parse::parse(source, format, known)
    }

    /// No rules: nothing ever matches.
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    /// The rules in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule whose conditions all hold for `input`.
    ///
    /// What is derived from the message is derived at most once per call, and only when a rule
    /// needs it: its words (lower-cased, numbered against the rules' keyword words), its
    /// command, its source in lower case, the contact's bucket, each team's hours, and which
    /// regexes can match at all (one scan for their literal prefixes, see `screen.rs`).
    ///
    /// When the rules have keywords, the message's words first select the rules to try: those
    /// without keywords, and those with a keyword whose longest word the message has. Each rule
    /// tried runs its checks cheapest first (bit tests, then comparisons, then the caller's
    /// hours, then its regex).
    pub fn evaluate<'a>(&'a self, input: &Input<'_>) -> Option<&'a Rule> {
        let message = Message::new(input, self);
        let holds = |index: usize| {
            self.plans
                .get(index)
                .and_then(|&(start, end)| self.checks.get(start as usize..end as usize))
                .is_some_and(|plan| message.holds(plan))
        };
        let index = if self.vocabulary.len() == 0 {
            (0..self.rules.len()).find(|&i| holds(i))?
        } else {
            let mut candidates = self.unanchored.clone();
            for word in message.words().present() {
                for &rule in self.anchored.get(word as usize).into_iter().flatten() {
                    if let Some(slot) = candidates.get_mut(rule as usize / 64) {
                        *slot |= 1 << (rule % 64);
                    }
                }
            }
            candidates
                .iter()
                .enumerate()
                .flat_map(|(i, &slot)| Bits(slot).map(move |bit| i * 64 + bit as usize))
                .find(|&i| holds(i))?
        };
        self.rules.get(index)
    }

    /// Every team the rules name (`then.team`, `when.hours_of`).
    pub fn teams(&self) -> BTreeSet<&str> {
        self.rules
            .iter()
            .flat_map(|r| [r.then.team.as_deref(), r.when.hours_of.as_deref()])
            .flatten()
            .collect()
    }
}

#[cfg(test)]
impl RuleSet {
    /// Every rule in order, without selecting them by the message's words first.
    fn evaluate_every_rule<'a>(&'a self, input: &Input<'_>) -> Option<&'a Rule> {
        let message = Message::new(input, self);
        self.plans
            .iter()
            .position(|&(start, end)| {
                self.checks
                    .get(start as usize..end as usize)
                    .is_some_and(|plan| message.holds(plan))
            })
            .and_then(|i| self.rules.get(i))
    }
}

impl<'a> IntoIterator for &'a RuleSet {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;
    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// A rule's conditions as a short list of checks, cheapest first, holding only the conditions
/// present: evaluating a rule reads a few small values instead of the whole [`Conditions`],
/// and the checks of all rules sit together in one array.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    /// Bits of [`channel_bit`].
    Channels(u8),
    /// Bits of [`status_bit`].
    Statuses(u8),
    /// Primary subtags packed by [`language_code`].
    Languages(Box<[u32]>),
    Tags(Box<[Tag]>),
    AnyTags(Box<[Tag]>),
    Attributes(Box<[(String, String)]>),
    Sources(Box<[Box<str>]>),
    Commands(Box<[Box<str>]>),
    Rollout(u8),
    /// `team` indexes [`RuleSet::hours_teams`].
    Hours {
        open: bool,
        team: u16,
    },
    /// A range of [`RuleSet::keyword_words`]: for each keyword its word count, then its word
    /// numbers.
    Keywords(u32, u32),
    /// An index into [`RuleSet::regexes`].
    Regex(usize),
}

/// An index into the set's arrays; a file has at most 1 MiB, so they stay far below `u32::MAX`.
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A primary language subtag (2–3 ASCII letters, lower-cased by `LanguageTag`) as a number,
/// so comparing two is one instruction.
fn language_code(primary: &str) -> u32 {
    primary
        .bytes()
        .take(4)
        .fold(0, |code, b| (code << 8) | u32::from(b))
}

pub(crate) fn channel_bit(channel: Channel) -> u8 {
    match channel {
        Channel::Telegram => 1,
        Channel::Email => 2,
        Channel::Web => 4,
    }
}

pub(crate) fn status_bit(status: ConversationStatus) -> u8 {
    match status {
        ConversationStatus::Bot => 1,
        ConversationStatus::Queued => 2,
        ConversationStatus::Assigned => 4,
        ConversationStatus::Resolved => 8,
    }
}

/// What parsing compiles besides [`Conditions`]: keyword word numbers and the regex.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub keywords: Vec<Box<[u32]>>,
    pub regex: Option<Regex>,
}

impl RuleSet {
    /// Adds a rule with its plan.
    pub(crate) fn push(&mut self, rule: Rule, compiled: Compiled) {
        let c = &rule.when;
        let boxed = |items: &[String]| items.iter().map(|s| s.as_str().into()).collect();
        let start = self.checks.len();
        // Cheapest and most selective first: bit tests, then word and string comparisons,
        // then the caller's hours, then the regex.
        if !c.channels.is_empty() {
            let bits = c.channels.iter().fold(0, |b, ch| b | channel_bit(*ch));
            self.checks.push(Check::Channels(bits));
        }
        if !c.statuses.is_empty() {
            let bits = c.statuses.iter().fold(0, |b, s| b | status_bit(*s));
            self.checks.push(Check::Statuses(bits));
        }
        if !c.languages.is_empty() {
            let codes = c.languages.iter().map(|l| language_code(l)).collect();
            self.checks.push(Check::Languages(codes));
        }
        if let Some(percent) = c.rollout {
            self.checks.push(Check::Rollout(percent));
        }
        let rule_index = index(self.rules.len());
        if self.unanchored.len() * 64 <= self.rules.len() {
            self.unanchored.push(0);
        }
        if compiled.keywords.is_empty() {
            if let Some(slot) = self.unanchored.last_mut() {
                *slot |= 1 << (rule_index % 64);
            }
        } else {
            self.anchored.resize_with(self.vocabulary.len(), Vec::new);
            for keyword in &compiled.keywords {
                let anchor = keyword
                    .iter()
                    .copied()
                    .max_by_key(|&w| self.vocabulary.length(w));
                if let Some(list) = anchor.and_then(|w| self.anchored.get_mut(w as usize))
                    && list.last() != Some(&rule_index)
                {
                    list.push(rule_index);
                }
            }
        }
        if !compiled.keywords.is_empty() {
            let from = self.keyword_words.len();
            for keyword in &compiled.keywords {
                self.keyword_words.push(index(keyword.len()));
                self.keyword_words.extend_from_slice(keyword);
            }
            let to = self.keyword_words.len();
            self.checks.push(Check::Keywords(index(from), index(to)));
        }
        if !c.commands.is_empty() {
            self.checks.push(Check::Commands(boxed(&c.commands)));
        }
        if !c.sources.is_empty() {
            self.checks.push(Check::Sources(boxed(&c.sources)));
        }
        if !c.tags.is_empty() {
            self.checks.push(Check::Tags(c.tags.clone().into()));
        }
        if !c.any_tags.is_empty() {
            self.checks.push(Check::AnyTags(c.any_tags.clone().into()));
        }
        if !c.attributes.is_empty() {
            self.checks
                .push(Check::Attributes(c.attributes.clone().into()));
        }
        if let Some(hours) = c.hours {
            let team = match self.hours_teams.iter().position(|t| *t == c.hours_team) {
                Some(i) => i,
                None => {
                    self.hours_teams.push(c.hours_team.clone());
                    self.hours_teams.len() - 1
                }
            };
            self.checks.push(Check::Hours {
                open: hours == HoursCondition::Open,
                team: u16::try_from(team).unwrap_or(u16::MAX),
            });
        }
        if let Some(regex) = compiled.regex {
            self.checks.push(Check::Regex(self.regexes.len()));
            self.regexes.push(regex);
        }
        self.plans.push((index(start), index(self.checks.len())));
        self.rules.push(rule);
    }

    /// Called once every rule is in.
    pub(crate) fn finish(&mut self) {
        self.screen = Screen::new(self.regexes.iter().map(Regex::as_str));
    }
}

/// An input with what is derived from it computed on first use.
struct Message<'i, 'r> {
    input: &'i Input<'i>,
    set: &'r RuleSet,
    channel: u8,
    status: u8,
    language: Option<u32>,
    words: OnceCell<MessageWords>,
    candidates: OnceCell<Candidates>,
    command: OnceCell<Option<String>>,
    source: OnceCell<Option<String>>,
    bucket: OnceCell<u8>,
    /// Per entry of [`RuleSet::hours_teams`]: 0 not asked yet, 1 closed, 2 open.
    hours: OnceCell<Box<[Cell<u8>]>>,
}

impl<'i, 'r> Message<'i, 'r> {
    fn new(input: &'i Input<'i>, set: &'r RuleSet) -> Self {
        Self {
            input,
            set,
            channel: channel_bit(input.channel),
            status: status_bit(input.status),
            language: input.language.map(|l| language_code(l.primary())),
            words: OnceCell::new(),
            candidates: OnceCell::new(),
            command: OnceCell::new(),
            source: OnceCell::new(),
            bucket: OnceCell::new(),
            hours: OnceCell::new(),
        }
    }

    fn words(&self) -> &MessageWords {
        self.words
            .get_or_init(|| self.set.vocabulary.message(self.input.text))
    }

    /// `/Refund@SomeBot args` → `refund`.
    fn command(&self) -> Option<&str> {
        self.command
            .get_or_init(|| {
                let rest = self.input.text.strip_prefix('/')?;
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '@')
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                (!name.is_empty()).then(|| name.to_lowercase())
            })
            .as_deref()
    }

    fn source(&self) -> Option<&str> {
        self.source
            .get_or_init(|| self.input.source.map(|s| s.trim().to_lowercase()))
            .as_deref()
    }

    fn bucket(&self) -> u8 {
        *self.bucket.get_or_init(|| bucket(self.input.contact))
    }

    /// Whether the `team`th entry of [`RuleSet::hours_teams`] is open; the caller is asked once.
    fn open(&self, team: u16) -> bool {
        let team = usize::from(team);
        let known = self.hours.get_or_init(|| {
            std::iter::repeat_with(|| Cell::new(0))
                .take(self.set.hours_teams.len())
                .collect()
        });
        let Some(state) = known.get(team) else {
            return false;
        };
        match state.get() {
            0 => {
                let name = self.set.hours_teams.get(team).and_then(Option::as_deref);
                let open = (self.input.hours)(name);
                state.set(if open { 2 } else { 1 });
                open
            }
            s => s == 2,
        }
    }

    /// Whether regex `i` can match (see [`Screen`]) and does.
    fn regex_matches(&self, i: usize) -> bool {
        let candidates = self
            .candidates
            .get_or_init(|| self.set.screen.candidates(self.input.text));
        candidates.contains(i)
            && self
                .set
                .regexes
                .get(i)
                .is_some_and(|r| r.is_match(self.input.text))
    }

    /// Whether every check holds.
    fn holds(&self, plan: &'r [Check]) -> bool {
        plan.iter().all(|check| self.check(check))
    }

    fn check(&self, check: &'r Check) -> bool {
        let input = self.input;
        match check {
            Check::Channels(bits) => bits & self.channel != 0,
            Check::Statuses(bits) => bits & self.status != 0,
            Check::Languages(codes) => self.language.is_some_and(|l| codes.contains(&l)),
            Check::Tags(tags) => tags.iter().all(|t| input.tags.contains(t)),
            Check::AnyTags(tags) => tags.iter().any(|t| input.tags.contains(t)),
            Check::Attributes(pairs) => pairs
                .iter()
                .all(|(k, v)| input.attributes.get(k) == Some(v)),
            Check::Sources(sources) => self
                .source()
                .is_some_and(|s| sources.iter().any(|x| &**x == s)),
            Check::Commands(commands) => self
                .command()
                .is_some_and(|c| commands.iter().any(|x| &**x == c)),
            Check::Rollout(percent) => self.bucket() < *percent,
            Check::Hours { open, team } => self.open(*team) == *open,
            Check::Keywords(start, end) => {
                let words = self.words();
                let mut rest = self
                    .set
                    .keyword_words
                    .get(*start as usize..*end as usize)
                    .unwrap_or_default();
                while let Some((&len, tail)) = rest.split_first() {
                    let (keyword, next) = tail.split_at(tail.len().min(len as usize));
                    if words.contains(keyword) {
                        return true;
                    }
                    rest = next;
                }
                false
            }
            Check::Regex(i) => self.regex_matches(*i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;
    use uuid::Uuid;

    /// One deployment's rules for the table below; each rule tests one thing.
    const RULES: &str = r#"
[[rules]]
name = "start"
when = { command = "start" }
then = { reply = "Hello!" }

[[rules]]
name = "slash refund command"
when = { command = "/refund" }
then = { team = "billing" }

[[rules]]
name = "web only"
when = { channel = "web", keywords = "pricing" }
then = { reply = "See our prices" }

[[rules]]
name = "from the shop bot"
when = { source = ["123456789", "web_0190f5a3b2c47d8e9f00112233445566"], keywords = "shop" }
then = { team = "shop" }

[[rules]]
name = "mailbox"
when = { source = "Support@Example.com" }
then = { team = "mail" }

[[rules]]
name = "refund words"
when = { keywords = ["refund", "money back"] }
then = { team = "billing", skill = "billing" }

[[rules]]
name = "russian refund words"
when = { keywords = ["возврат денег", "退款"] }
then = { team = "billing" }

[[rules]]
name = "order number"
when = { regex = '(?i)order\s*#?\d{5,}' }
then = { team = "orders" }

[[rules]]
name = "ukrainian or russian"
when = { language = ["ru", "uk"], keywords = "hello" }
then = { team = "ru" }

[[rules]]
name = "vip and gold"
when = { tags = ["vip", "gold"], keywords = "help" }
then = { team = "vip", priority = "urgent" }

[[rules]]
name = "vip or gold"
when = { any_tags = ["vip", "gold"], keywords = "help" }
then = { team = "vip", priority = "high" }

[[rules]]
name = "pro plan"
when = { attributes = { plan = "pro", seats = 5 }, keywords = "help" }
then = { team = "pro" }

[[rules]]
name = "queued nudge"
when = { status = "queued", keywords = "hurry" }
then = { reply = "Someone is coming" }

[[rules]]
name = "support closed"
when = { hours = "closed", hours_of = "support", keywords = "urgent" }
then = { reply = "We are closed", ai = true }

[[rules]]
name = "night team open"
when = { hours = "open", keywords = "night" }
then = { team = "night" }

[[rules]]
name = "default hours closed"
when = { hours = "closed", keywords = "anyone" }
then = { ai = true }

[[rules]]
name = "ten percent"
when = { rollout = 10, keywords = "experiment" }
then = { ai = true }

[[rules]]
name = "catch all"
then = { faq = true }
"#;

    struct Case {
        text: &'static str,
        channel: Channel,
        source: Option<&'static str>,
        language: Option<&'static str>,
        tags: &'static [&'static str],
        attributes: &'static [(&'static str, &'static str)],
        status: ConversationStatus,
        contact: u128,
        open: &'static [Option<&'static str>],
        expect: &'static str,
    }

    const BASE: Case = Case {
        text: "",
        channel: Channel::Telegram,
        source: None,
        language: None,
        tags: &[],
        attributes: &[],
        status: ConversationStatus::Bot,
        contact: 1,
        open: &[],
        expect: "catch all",
    };

    /// A contact id whose bucket is below 10 and one whose bucket is not.
    fn contact(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    fn contact_with(wanted: impl Fn(u8) -> bool) -> u128 {
        (1..10_000)
            .find(|n| wanted(bucket(contact(*n))))
            .expect("some contact")
    }

    fn run(rules: &RuleSet, case: &Case) -> String {
        let tags: BTreeSet<Tag> = case.tags.iter().map(|t| Tag::parse(t).unwrap()).collect();
        let attributes: BTreeMap<String, String> = case
            .attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let language = case.language.map(|l| LanguageTag::parse(l).unwrap());
        let contact_id = match case.contact {
            IN_ROLLOUT => contact(contact_with(|b| b < 10)),
            OUT_OF_ROLLOUT => contact(contact_with(|b| b >= 10)),
            n => contact(n),
        };
        let hours = |team: Option<&str>| case.open.contains(&team);
        let input = Input {
            channel: case.channel,
            source: case.source,
            text: case.text,
            language: language.as_ref(),
            tags: &tags,
            attributes: &attributes,
            status: case.status,
            contact: contact_id,
            now: Timestamp::from_millis(1_780_000_000_000),
            hours: &hours,
        };
        rules
            .evaluate(&input)
            .map_or_else(|| "none".to_owned(), |r| r.name.clone())
    }

    const IN_ROLLOUT: u128 = u128::MAX;
    const OUT_OF_ROLLOUT: u128 = u128::MAX - 1;

    #[test]
    fn the_evaluator_table_holds() {
        let rules = RuleSet::parse(RULES, Format::Toml, &Known::NOTHING).unwrap();
        let cases: &[Case] = &[
            // command
            Case {
                text: "/start",
                expect: "start",
                ..BASE
            },
            Case {
                text: "/START",
                expect: "start",
                ..BASE
            },
            Case {
                text: "/start@OmnideskBot deep-link",
                expect: "start",
                ..BASE
            },
            Case {
                text: "please /start",
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "/started",
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "/refund 123",
                expect: "slash refund command",
                ..BASE
            },
            // channel
            Case {
                text: "pricing?",
                channel: Channel::Web,
                expect: "web only",
                ..BASE
            },
            Case {
                text: "pricing?",
                channel: Channel::Email,
                expect: "catch all",
                ..BASE
            },
            // source, case-insensitive
            Case {
                text: "shop",
                source: Some("123456789"),
                expect: "from the shop bot",
                ..BASE
            },
            Case {
                text: "shop",
                channel: Channel::Web,
                source: Some("WEB_0190F5A3B2C47D8E9F00112233445566"),
                expect: "from the shop bot",
                ..BASE
            },
            Case {
                text: "shop",
                source: Some("987654321"),
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "shop",
                source: None,
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "hi",
                channel: Channel::Email,
                source: Some("support@EXAMPLE.com"),
                expect: "mailbox",
                ..BASE
            },
            // keywords: whole words, phrases, case, Unicode
            Case {
                text: "I want a REFUND!",
                expect: "refund words",
                ..BASE
            },
            Case {
                text: "it was refunded",
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "give my money back",
                expect: "refund words",
                ..BASE
            },
            Case {
                text: "money is back",
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "Хочу ВОЗВРАТ денег",
                expect: "russian refund words",
                ..BASE
            },
            Case {
                text: "возврат",
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "我要退款",
                expect: "russian refund words",
                ..BASE
            },
            // regex
            Case {
                text: "where is Order #123456",
                expect: "order number",
                ..BASE
            },
            Case {
                text: "order 1234",
                expect: "catch all",
                ..BASE
            },
            // language by primary subtag
            Case {
                text: "hello",
                language: Some("ru-RU"),
                expect: "ukrainian or russian",
                ..BASE
            },
            Case {
                text: "hello",
                language: Some("uk"),
                expect: "ukrainian or russian",
                ..BASE
            },
            Case {
                text: "hello",
                language: Some("en"),
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "hello",
                language: None,
                expect: "catch all",
                ..BASE
            },
            // tags: all vs any
            Case {
                text: "help",
                tags: &["vip", "gold"],
                expect: "vip and gold",
                ..BASE
            },
            Case {
                text: "help",
                tags: &["gold"],
                expect: "vip or gold",
                ..BASE
            },
            Case {
                text: "help",
                tags: &["VIP", "new"],
                expect: "vip or gold",
                ..BASE
            },
            // attributes: every one must equal, compared as strings
            Case {
                text: "help",
                attributes: &[("plan", "pro"), ("seats", "5"), ("x", "y")],
                expect: "pro plan",
                ..BASE
            },
            Case {
                text: "help",
                attributes: &[("plan", "pro")],
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "help",
                attributes: &[("plan", "Pro"), ("seats", "5")],
                expect: "catch all",
                ..BASE
            },
            // status
            Case {
                text: "hurry",
                status: ConversationStatus::Queued,
                expect: "queued nudge",
                ..BASE
            },
            Case {
                text: "hurry",
                status: ConversationStatus::Bot,
                expect: "catch all",
                ..BASE
            },
            // hours: of the named team, of then.team, of the default
            Case {
                text: "urgent",
                open: &[],
                expect: "support closed",
                ..BASE
            },
            Case {
                text: "urgent",
                open: &[Some("support")],
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "night",
                open: &[Some("night")],
                expect: "night team open",
                ..BASE
            },
            Case {
                text: "night",
                open: &[None, Some("support")],
                expect: "catch all",
                ..BASE
            },
            Case {
                text: "anyone?",
                open: &[Some("night")],
                expect: "default hours closed",
                ..BASE
            },
            Case {
                text: "anyone?",
                open: &[None],
                expect: "catch all",
                ..BASE
            },
            // rollout
            Case {
                text: "experiment",
                contact: IN_ROLLOUT,
                expect: "ten percent",
                ..BASE
            },
            Case {
                text: "experiment",
                contact: OUT_OF_ROLLOUT,
                expect: "catch all",
                ..BASE
            },
            // first match wins: "refund" is also a catch-all case, and both rules 1 and 6 hold
            Case {
                text: "/refund money back",
                expect: "slash refund command",
                ..BASE
            },
            Case {
                text: "refund order #123456",
                expect: "refund words",
                ..BASE
            },
        ];
        assert!(cases.len() >= 30);
        let mut failures = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            let got = run(&rules, case);
            if got != case.expect {
                failures.push(format!(
                    "case {i} {:?}: expected {:?}, got {got:?}",
                    case.text, case.expect
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn selecting_rules_by_their_keywords_changes_no_outcome() {
        let mut rules_text = RULES.replace(
            "[[rules]]\nname = \"catch all\"\nthen = { faq = true }\n",
            "",
        );
        rules_text
            .push_str("[[rules]]\nwhen.keywords = [\"please help\", \"back\"]\nthen.ai = true\n");
        assert!(!rules_text.contains("catch all"));
        let rules = RuleSet::parse(&rules_text, Format::Toml, &Known::NOTHING).unwrap();
        let pool = [
            "refund",
            "money",
            "back",
            "please",
            "help",
            "hello",
            "возврат",
            "денег",
            "退款",
            "order",
            "#123456",
            "urgent",
            "night",
            "anyone",
            "experiment",
            "hurry",
            "pricing",
            "shop",
            "/start",
            "/refund",
            "x",
            "!",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let tag_sets = [vec![], vec!["vip"], vec!["gold", "vip"]];
        let hours = |team: Option<&str>| team == Some("night");
        let attributes = BTreeMap::from([
            ("plan".to_owned(), "pro".to_owned()),
            ("seats".to_owned(), "5".to_owned()),
        ]);
        let languages = [
            None,
            LanguageTag::parse("ru").ok(),
            LanguageTag::parse("en").ok(),
        ];
        let mut matched = 0;
        for _ in 0..3_000 {
            let words: Vec<&str> = (0..1 + next(6)).map(|_| pool[next(pool.len())]).collect();
            let text = words.join(" ");
            let tags: BTreeSet<Tag> = tag_sets[next(3)]
                .iter()
                .map(|t| Tag::parse(t).unwrap())
                .collect();
            let input = Input {
                channel: [Channel::Telegram, Channel::Web, Channel::Email][next(3)],
                source: [None, Some("123456789")][next(2)],
                text: &text,
                language: languages[next(3)].as_ref(),
                tags: &tags,
                attributes: &attributes,
                status: ConversationStatus::ALL[next(4)],
                contact: contact(next(1000) as u128),
                now: Timestamp::from_millis(0),
                hours: &hours,
            };
            let selected = rules.evaluate(&input).map(|r| r.index);
            assert_eq!(
                selected,
                rules.evaluate_every_rule(&input).map(|r| r.index),
                "{text:?}"
            );
            matched += usize::from(selected.is_some());
        }
        assert!(matched > 1_000, "{matched}");
    }

    #[test]
    fn without_a_catch_all_nothing_may_match() {
        let rules = RuleSet::parse(
            "[[rules]]\nwhen.keywords = \"refund\"\nthen.faq = true\n",
            Format::Toml,
            &Known::NOTHING,
        )
        .unwrap();
        assert_eq!(
            run(
                &rules,
                &Case {
                    text: "hello",
                    ..BASE
                }
            ),
            "none"
        );
        assert_eq!(
            run(
                &RuleSet::empty(),
                &Case {
                    text: "refund",
                    ..BASE
                }
            ),
            "none"
        );
    }

    #[test]
    fn hours_are_asked_once_per_team_per_message() {
        let rules = RuleSet::parse(
            r#"
[[rules]]
when = { hours = "open", hours_of = "a", keywords = "x" }
then.faq = true
[[rules]]
when = { hours = "open", hours_of = "a", keywords = "y" }
then.faq = true
[[rules]]
when = { hours = "closed", hours_of = "a" }
then.faq = true
"#,
            Format::Toml,
            &Known::NOTHING,
        )
        .unwrap();
        let calls = std::cell::Cell::new(0);
        let hours = |_: Option<&str>| {
            calls.set(calls.get() + 1);
            true
        };
        let tags = BTreeSet::new();
        let attributes = BTreeMap::new();
        let input = Input {
            channel: Channel::Telegram,
            source: None,
            text: "z",
            language: None,
            tags: &tags,
            attributes: &attributes,
            status: ConversationStatus::Bot,
            contact: contact(1),
            now: Timestamp::from_millis(0),
            hours: &hours,
        };
        assert!(rules.evaluate(&input).is_none());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn a_reply_is_picked_by_language_then_english_then_the_first() {
        let text = LocalText::PerLanguage(vec![
            (LanguageTag::parse("ru").unwrap(), "Привет".to_owned()),
            (LanguageTag::parse("en").unwrap(), "Hello".to_owned()),
            (LanguageTag::parse("pt-BR").unwrap(), "Olá".to_owned()),
        ]);
        let lang = |s: &str| LanguageTag::parse(s).unwrap();
        assert_eq!(text.pick(Some(&lang("ru-RU"))), "Привет");
        assert_eq!(text.pick(Some(&lang("pt"))), "Olá");
        assert_eq!(text.pick(Some(&lang("de"))), "Hello");
        assert_eq!(text.pick(None), "Hello");
        let no_english = LocalText::PerLanguage(vec![
            (lang("de"), "Hallo".to_owned()),
            (lang("fr"), "Salut".to_owned()),
        ]);
        assert_eq!(no_english.pick(Some(&lang("es"))), "Hallo");
        assert_eq!(
            LocalText::Plain("Hi".to_owned()).pick(Some(&lang("ru"))),
            "Hi"
        );
        assert_eq!(LocalText::PerLanguage(Vec::new()).pick(None), "");
    }

    #[test]
    fn teams_lists_every_team_named() {
        let rules = RuleSet::parse(RULES, Format::Toml, &Known::NOTHING).unwrap();
        let teams: Vec<&str> = rules.teams().into_iter().collect();
        assert_eq!(
            teams,
            [
                "billing", "mail", "night", "orders", "pro", "ru", "shop", "support", "vip"
            ]
        );
        assert_eq!(rules.len(), 18);
        assert_eq!(rules.iter().next().map(|r| r.line), Some(2));
    }
}
