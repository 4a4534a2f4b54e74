//! The schema of a rule file, checked on the positioned tree of `node.rs`: every error points
//! at the key or value at fault, or else at the rule.

use omnidesk_domain::{Channel, ConversationStatus, EmailAddress, LanguageTag, Tag};
use regex::RegexBuilder;

use crate::node::{self, Entry, Node, Pos, Value};
use crate::rules::{
    Actions, ButtonSpec, Compiled, Conditions, HoursCondition, LocalText, Rule, RuleSet,
};
use crate::text::{Vocabulary, words};
use crate::{Format, Known, MAX_FILE_BYTES, MAX_RULES, Priority, REGEX_SIZE_LIMIT, RulesError};

const WHEN_KEYS: &str = "channel, source, command, keywords, regex, language, tags, any_tags, \
                         attributes, status, hours, hours_of, rollout";
const THEN_KEYS: &str =
    "reply, buttons, faq, ai, tags, priority, team, skill, assign, handoff, resolve";
/// Longest name, team, skill or keyword, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Telegram's limit on a button's callback data, in bytes.
const MAX_BUTTON_DATA_BYTES: usize = 64;

pub(crate) fn parse(
    source: &str,
    format: Format,
    known: &Known<'_>,
) -> Result<RuleSet, RulesError> {
    if source.len() > MAX_FILE_BYTES {
        return Err(RulesError::new(
            1,
            None,
            format!(
                "the file has {} bytes; at most {MAX_FILE_BYTES} (1 MiB) are accepted",
                source.len()
            ),
        ));
    }
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let root = match format {
        Format::Toml => node::parse_toml(source)?,
        Format::Yaml => node::parse_yaml(source)?,
    };
    Reader { format, known }.file(&root)
}

struct Reader<'k> {
    format: Format,
    known: &'k Known<'k>,
}

impl Reader<'_> {
    fn file(&self, root: &Node) -> Result<RuleSet, RulesError> {
        let entries = match &root.value {
            // An empty YAML document.
            Value::Null => return Ok(RuleSet::empty()),
            _ => self.map(root, "the file")?,
        };
        let mut set = RuleSet::empty();
        for entry in entries {
            match entry.key.as_str() {
                "rules" => {
                    let rules = match &entry.value.value {
                        Value::List(rules) => rules,
                        other => {
                            return Err(entry.value.pos.error(format!(
                                "`rules` must be a list of rules, not {}",
                                self.kind(other)
                            )));
                        }
                    };
                    for (index, rule) in rules.iter().enumerate() {
                        if index == MAX_RULES {
                            return Err(rule.pos.error(format!(
                                "too many rules: at most {MAX_RULES} are accepted"
                            )));
                        }
                        let (rule, compiled) = self.rule(index, rule, &mut set.vocabulary)?;
                        set.push(rule, compiled);
                    }
                }
                other => return Err(unknown_key(entry, other, "the file", "rules")),
            }
        }
        set.finish();
        Ok(set)
    }

    fn rule(
        &self,
        index: usize,
        node: &Node,
        vocabulary: &mut Vocabulary,
    ) -> Result<(Rule, Compiled), RulesError> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            other => {
                return Err(node.pos.error(format!(
                    "rule {} must be {}, not {}",
                    index + 1,
                    self.table(),
                    self.kind(other)
                )));
            }
        };
        // In the file's order, so the first error reported is the first in the file.
        let (mut name, mut when, mut then) = (None, None, None);
        for entry in entries {
            match entry.key.as_str() {
                "name" => {
                    name = Some(
                        self.text(&entry.value, "`name`", MAX_NAME_CHARS)?
                            .to_owned(),
                    )
                }
                "when" => when = Some(self.conditions(&entry.value, vocabulary)?),
                "then" => then = Some(self.actions(entry)?),
                other => return Err(unknown_key(entry, other, "a rule", "name, when, then")),
            }
        }
        let Some(actions) = then else {
            return Err(node.pos.error(format!(
                "rule {} has no `then`: a rule needs at least one action ({THEN_KEYS})",
                index + 1
            )));
        };
        let (mut conditions, compiled) = when.unwrap_or_default();
        conditions.hours_team = conditions.hours_of.clone().or_else(|| actions.team.clone());
        let rule = Rule {
            name: name.unwrap_or_else(|| format!("rule {}", index + 1)),
            index,
            line: node.pos.line,
            when: conditions,
            then: actions,
        };
        Ok((rule, compiled))
    }

    fn conditions(
        &self,
        node: &Node,
        vocabulary: &mut Vocabulary,
    ) -> Result<(Conditions, Compiled), RulesError> {
        let mut c = Conditions::default();
        let mut compiled = Compiled::default();
        for entry in self.map(node, "`when`")? {
            let what = format!("`when.{}`", entry.key);
            let what = what.as_str();
            let value = &entry.value;
            match entry.key.as_str() {
                "channel" => {
                    for (name, pos) in self.strings(value, what)? {
                        let channel = Channel::parse(&name.to_lowercase()).map_err(|_| {
                            pos.error(format!(
                                "unknown channel \"{name}\": expected telegram, email or web"
                            ))
                        })?;
                        c.channels.push(channel);
                    }
                }
                "source" => {
                    for (source, _) in self.scalars(value, what)? {
                        c.sources.push(source.to_lowercase());
                    }
                }
                "command" => {
                    for (command, pos) in self.strings(value, what)? {
                        let name = command.strip_prefix('/').unwrap_or(command);
                        if name.is_empty()
                            || name.chars().count() > 32
                            || !name
                                .chars()
                                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                        {
                            return Err(pos.error(format!(
                                "\"{command}\" is not a bot command: 1 to 32 letters, digits or `_`, with or without the `/`"
                            )));
                        }
                        c.commands.push(name.to_lowercase());
                    }
                }
                "keywords" => {
                    for (keyword, pos) in self.strings(value, what)? {
                        if keyword.chars().count() > MAX_NAME_CHARS {
                            return Err(pos.error(format!(
                                "a keyword may have at most {MAX_NAME_CHARS} characters"
                            )));
                        }
                        let keyword_words = words(keyword);
                        if keyword_words.is_empty() {
                            return Err(pos.error(format!(
                                "the keyword \"{keyword}\" has no letters or digits"
                            )));
                        }
                        compiled.keywords.push(vocabulary.add(&keyword_words));
                        c.keywords.push(keyword.to_owned());
                    }
                }
                "regex" => {
                    let pattern = self.string(value, what)?;
                    let regex = RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            value
                                .pos
                                .error(format!("invalid regex: {}", regex_reason(&e)))
                        })?;
                    c.regex = Some(pattern.to_owned());
                    compiled.regex = Some(regex);
                }
                "language" => {
                    for (tag, pos) in self.strings(value, what)? {
                        let tag = LanguageTag::parse(tag)
                            .map_err(|e| pos.error(format!("\"{tag}\": {e}")))?;
                        c.languages.push(tag.primary().to_owned());
                    }
                }
                "tags" => c.tags = self.tags(value, what)?,
                "any_tags" => c.any_tags = self.tags(value, what)?,
                "attributes" => {
                    let entries = self.map(value, what)?;
                    if entries.is_empty() {
                        return Err(value.pos.error(format!("{what} is empty")));
                    }
                    for attribute in entries {
                        let what = format!("`when.attributes.{}`", attribute.key);
                        let text = self.scalar(&attribute.value, &what)?;
                        c.attributes.push((attribute.key.clone(), text));
                    }
                }
                "status" => {
                    for (status, pos) in self.strings(value, what)? {
                        let status = ConversationStatus::parse(&status.to_lowercase()).map_err(|_| {
                            pos.error(format!(
                                "unknown status \"{status}\": expected bot, queued, assigned or resolved"
                            ))
                        })?;
                        c.statuses.push(status);
                    }
                }
                "hours" => {
                    c.hours = Some(match self.string(value, what)? {
                        "open" => HoursCondition::Open,
                        "closed" => HoursCondition::Closed,
                        other => {
                            return Err(value.pos.error(format!(
                                "`hours` must be \"open\" or \"closed\", not \"{other}\""
                            )));
                        }
                    });
                }
                "hours_of" => c.hours_of = Some(self.team(value, what)?),
                "rollout" => {
                    let percent = match &value.value {
                        Value::Int(n) => u8::try_from(*n).ok().filter(|p| *p <= 100),
                        other => {
                            return Err(value.pos.error(format!(
                                "`rollout` must be a whole percent 0 to 100, not {}",
                                self.kind(other)
                            )));
                        }
                    };
                    c.rollout = Some(percent.ok_or_else(|| {
                        value.pos.error("`rollout` must be a percent from 0 to 100")
                    })?);
                }
                other => return Err(unknown_key(entry, other, "`when`", WHEN_KEYS)),
            }
        }
        Ok((c, compiled))
    }

    fn actions(&self, then: &Entry) -> Result<Actions, RulesError> {
        let mut a = Actions::default();
        // The key of each action present, to point at a contradiction.
        let mut at: Vec<(&str, Pos)> = Vec::new();
        for entry in self.map(&then.value, "`then`")? {
            let what = format!("`then.{}`", entry.key);
            let what = what.as_str();
            let value = &entry.value;
            let present = match entry.key.as_str() {
                "reply" => {
                    a.reply = Some(self.local_text(value, what)?);
                    true
                }
                "buttons" => {
                    a.buttons = self.buttons(value, what)?;
                    true
                }
                "faq" => {
                    a.faq = self.boolean(value, what)?;
                    a.faq
                }
                "ai" => {
                    a.ai = self.boolean(value, what)?;
                    a.ai
                }
                "handoff" => {
                    a.handoff = self.boolean(value, what)?;
                    a.handoff
                }
                "resolve" => {
                    a.resolve = self.boolean(value, what)?;
                    a.resolve
                }
                "tags" => {
                    a.tags = self.tags(value, what)?;
                    true
                }
                "priority" => {
                    let name = self.string(value, what)?;
                    let priority = Priority::parse(&name.to_lowercase())
                        .map_err(|e| value.pos.error(e.to_string()))?;
                    a.priority = Some(priority);
                    true
                }
                "team" => {
                    a.team = Some(self.team(value, what)?);
                    true
                }
                "skill" => {
                    a.skill = Some(self.text(value, what, MAX_NAME_CHARS)?.to_owned());
                    true
                }
                "assign" => {
                    a.assign = Some(self.agent(value, what)?);
                    true
                }
                other => return Err(unknown_key(entry, other, "`then`", THEN_KEYS)),
            };
            if present {
                at.push((entry.key.as_str(), entry.key_pos));
            }
        }
        let key = |name: &str| at.iter().find(|(k, _)| *k == name).map(|(_, p)| *p);
        if at.is_empty() {
            return Err(then.key_pos.error(format!(
                "`then` has no action: a rule needs at least one of {THEN_KEYS}"
            )));
        }
        if let Some(pos) = key("buttons")
            && key("reply").is_none()
        {
            return Err(pos.error("`buttons` need a `reply` to be offered with"));
        }
        let conflicts: [(&str, &str, &str); 10] = [
            ("resolve", "ai", "a resolved conversation gets no AI answer"),
            (
                "resolve",
                "faq",
                "a resolved conversation gets no FAQ answer",
            ),
            (
                "resolve",
                "handoff",
                "a conversation cannot be resolved and handed to a person at once",
            ),
            (
                "resolve",
                "team",
                "a resolved conversation is in no team's queue",
            ),
            (
                "resolve",
                "assign",
                "a resolved conversation is assigned to nobody",
            ),
            (
                "ai",
                "faq",
                "one answerer per rule: the AI already uses the FAQ",
            ),
            (
                "handoff",
                "ai",
                "a conversation handed to a person gets no AI answer",
            ),
            (
                "handoff",
                "faq",
                "a conversation handed to a person gets no FAQ answer",
            ),
            (
                "assign",
                "ai",
                "a conversation assigned to an agent gets no AI answer",
            ),
            (
                "assign",
                "faq",
                "a conversation assigned to an agent gets no FAQ answer",
            ),
        ];
        for (first, second, why) in conflicts {
            if let (Some(p), Some(q)) = (key(first), key(second)) {
                // Point at whichever of the two comes later: it made the pair.
                return Err(p.max(q).error(format!(
                    "`{first}` cannot be combined with `{second}`: {why}"
                )));
            }
        }
        Ok(a)
    }

    fn local_text(&self, node: &Node, what: &str) -> Result<LocalText, RulesError> {
        match &node.value {
            Value::Str(_) => Ok(LocalText::Plain(
                self.text(node, what, usize::MAX)?.to_owned(),
            )),
            Value::Map(entries) => {
                if entries.is_empty() {
                    return Err(node.pos.error(format!("{what} has no text")));
                }
                let mut texts = Vec::with_capacity(entries.len());
                for entry in entries {
                    let tag = LanguageTag::parse(&entry.key).map_err(|e| {
                        entry
                            .key_pos
                            .error(format!("\"{}\" in {what}: {e}", entry.key))
                    })?;
                    let text =
                        self.text(&entry.value, &format!("{what}.{}", entry.key), usize::MAX)?;
                    texts.push((tag, text.to_owned()));
                }
                Ok(LocalText::PerLanguage(texts))
            }
            other => Err(node.pos.error(format!(
                "{what} must be a text or {} of texts per language, not {}",
                self.table(),
                self.kind(other)
            ))),
        }
    }

    fn buttons(&self, node: &Node, what: &str) -> Result<Vec<ButtonSpec>, RulesError> {
        let items = match &node.value {
            Value::List(items) if items.is_empty() => {
                return Err(node.pos.error(format!("{what} is an empty list")));
            }
            Value::List(items) => items,
            other => {
                return Err(node.pos.error(format!(
                    "{what} must be a list of {{ text, data }}, not {}",
                    self.kind(other)
                )));
            }
        };
        let mut buttons = Vec::with_capacity(items.len());
        for item in items {
            let (mut text, mut data) = (None, None);
            for entry in self.map(item, "a button")? {
                match entry.key.as_str() {
                    "text" => text = Some(self.local_text(&entry.value, "a button's `text`")?),
                    "data" => {
                        let value = self.text(&entry.value, "a button's `data`", usize::MAX)?;
                        if value.len() > MAX_BUTTON_DATA_BYTES {
                            return Err(entry.value.pos.error(format!(
                                "a button's `data` may have at most {MAX_BUTTON_DATA_BYTES} bytes (Telegram's limit)"
                            )));
                        }
                        data = Some(value.to_owned());
                    }
                    other => return Err(unknown_key(entry, other, "a button", "text, data")),
                }
            }
            match (text, data) {
                (Some(text), Some(data)) => buttons.push(ButtonSpec { text, data }),
                _ => return Err(item.pos.error("a button needs `text` and `data`")),
            }
        }
        Ok(buttons)
    }

    fn tags(&self, node: &Node, what: &str) -> Result<Vec<Tag>, RulesError> {
        self.strings(node, what)?
            .into_iter()
            .map(|(tag, pos)| Tag::parse(tag).map_err(|e| pos.error(format!("\"{tag}\": {e}"))))
            .collect()
    }

    fn team(&self, node: &Node, what: &str) -> Result<String, RulesError> {
        let team = self.text(node, what, MAX_NAME_CHARS)?;
        if let Some(teams) = self.known.teams
            && !teams.iter().any(|t| t == team)
        {
            return Err(node.pos.error(format!("unknown team \"{team}\"")));
        }
        Ok(team.to_owned())
    }

    fn agent(&self, node: &Node, what: &str) -> Result<String, RulesError> {
        let text = self.string(node, what)?;
        let email = EmailAddress::parse(text).map_err(|e| {
            node.pos
                .error(format!("{what} must be an agent's login e-mail: {e}"))
        })?;
        if let Some(agents) = self.known.agents
            && !agents
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(email.as_str()))
        {
            return Err(node.pos.error(format!("unknown agent \"{text}\"")));
        }
        Ok(email.as_str().to_owned())
    }

    /// The entries of a table (mapping).
    fn map<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Entry], RulesError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            other => Err(node.pos.error(format!(
                "{what} must be {}, not {}",
                self.table(),
                self.kind(other)
            ))),
        }
    }

    /// A string, trimmed, not empty.
    fn string<'n>(&self, node: &'n Node, what: &str) -> Result<&'n str, RulesError> {
        match &node.value {
            Value::Str(s) if s.trim().is_empty() => Err(node.pos.error(format!("{what} is empty"))),
            Value::Str(s) => Ok(s.trim()),
            other => Err(node
                .pos
                .error(format!("{what} must be a string, not {}", self.kind(other)))),
        }
    }

    /// A string of at most `max` characters, without control characters.
    fn text<'n>(&self, node: &'n Node, what: &str, max: usize) -> Result<&'n str, RulesError> {
        let text = self.string(node, what)?;
        if text.chars().count() > max {
            return Err(node
                .pos
                .error(format!("{what} may have at most {max} characters")));
        }
        if max <= MAX_NAME_CHARS && text.chars().any(char::is_control) {
            return Err(node
                .pos
                .error(format!("{what} contains a control character")));
        }
        Ok(text)
    }

    fn boolean(&self, node: &Node, what: &str) -> Result<bool, RulesError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            other => Err(node.pos.error(format!(
                "{what} must be true or false, not {}",
                self.kind(other)
            ))),
        }
    }

    /// A string, an integer or a boolean, as text (`5` is "5").
    fn scalar(&self, node: &Node, what: &str) -> Result<String, RulesError> {
        match &node.value {
            Value::Str(_) => self.string(node, what).map(str::to_owned),
            Value::Int(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(node
                .pos
                .error(format!("{what} must be a string, not {}", self.kind(other)))),
        }
    }

    /// One string or a non-empty list of them, each with its place.
    fn strings<'n>(&self, node: &'n Node, what: &str) -> Result<Vec<(&'n str, Pos)>, RulesError> {
        match &node.value {
            Value::List(items) if items.is_empty() => {
                Err(node.pos.error(format!("{what} is an empty list")))
            }
            Value::List(items) => items
                .iter()
                .map(|item| match &item.value {
                    Value::Str(_) => self.string(item, what).map(|s| (s, item.pos)),
                    other => Err(item.pos.error(format!(
                        "{what} must be a list of strings; this item is {}",
                        self.kind(other)
                    ))),
                })
                .collect(),
            Value::Str(_) => Ok(vec![(self.string(node, what)?, node.pos)]),
            other => Err(node.pos.error(format!(
                "{what} must be a string or a list of strings, not {}",
                self.kind(other)
            ))),
        }
    }

    /// Like [`Self::strings`], also taking integers (a bot id).
    fn scalars(&self, node: &Node, what: &str) -> Result<Vec<(String, Pos)>, RulesError> {
        match &node.value {
            Value::List(items) if items.is_empty() => {
                Err(node.pos.error(format!("{what} is an empty list")))
            }
            Value::List(items) => items
                .iter()
                .map(|item| self.scalar(item, what).map(|s| (s, item.pos)))
                .collect(),
            _ => Ok(vec![(self.scalar(node, what)?, node.pos)]),
        }
    }

    fn table(&self) -> &'static str {
        match self.format {
            Format::Toml => "a table",
            Format::Yaml => "a mapping",
        }
    }

    fn kind(&self, value: &Value) -> &'static str {
        match value {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Null => "empty (null)",
            Value::Other(kind) => kind,
            Value::List(_) => "a list",
            Value::Map(_) => self.table(),
        }
    }
}

fn unknown_key(entry: &Entry, key: &str, place: &str, expected: &str) -> RulesError {
    entry.key_pos.error(format!(
        "unknown key `{key}` in {place}; expected one of: {expected}"
    ))
}

/// The regex crate's message without its multi-line picture of the pattern.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    match last.trim().strip_prefix("error: ") {
        Some(reason) => reason.to_owned(),
        None => node::one_line(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_err(source: &str) -> RulesError {
        RuleSet::parse(source, Format::Toml, &Known::NOTHING).unwrap_err()
    }

    fn yaml_err(source: &str) -> RulesError {
        RuleSet::parse(source, Format::Yaml, &Known::NOTHING).unwrap_err()
    }

    fn at(err: &RulesError) -> (usize, Option<usize>) {
        (err.line, err.column)
    }

    const TEAMS: &[&str] = &["support", "billing"];

    fn known_teams() -> Vec<String> {
        TEAMS.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn a_toml_syntax_error_names_its_line() {
        let err = toml_err("[[rules]]\nname = \"a\"\nthen = { faq = true\n");
        assert_eq!(err.line, 3, "{err}");
        assert!(err.column.is_some());
    }

    #[test]
    fn a_yaml_syntax_error_names_its_line() {
        let err = yaml_err("rules:\n  - name: a\n    then: {faq: true\n");
        assert_eq!(err.line, 3, "{err}");
        let err = yaml_err("rules:\n  - name: a\n    name: b\n    then: {faq: true}\n");
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn an_unknown_key_is_named_at_its_line_and_column() {
        let err = toml_err("[[rules]]\n[rules.when]\nchanel = \"web\"\n[rules.then]\nfaq = true\n");
        assert_eq!(at(&err), (3, Some(1)), "{err}");
        assert!(err.message.contains("unknown key `chanel`"), "{err}");
        assert!(err.message.contains("channel"), "{err}");

        let err = yaml_err(
            "rules:\n  - when:\n      channel: web\n    then:\n      faq: true\n      fqa: true\n",
        );
        assert_eq!(at(&err), (6, Some(7)), "{err}");
        let err = yaml_err("rule:\n  - then: {faq: true}\n");
        assert_eq!(at(&err), (1, Some(1)), "{err}");
        let err = toml_err("[[rules]]\nlabel = \"x\"\nthen.faq = true\n");
        assert_eq!(at(&err), (2, Some(1)), "{err}");
    }

    #[test]
    fn a_bad_regex_is_named_at_its_line() {
        let toml = "[[rules]]\nname = \"orders\"\n\n[rules.when]\nregex = \"order (\\\\d+\"\n[rules.then]\nteam = \"x\"\n";
        let err = toml_err(toml);
        assert_eq!(at(&err), (5, Some(9)), "{err}");
        assert!(err.message.starts_with("invalid regex: "), "{err}");
        assert!(!err.message.contains('\n'));

        let yaml = "rules:\n  - name: orders\n    when:\n      regex: 'order (\\d+'\n    then:\n      team: x\n";
        let err = yaml_err(yaml);
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn a_regex_too_big_for_the_size_limit_is_refused() {
        let toml = "[[rules]]\nwhen.regex = '(\\w{100}){100}'\nthen.faq = true\n";
        let err = toml_err(toml);
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("size limit"), "{err}");
    }

    #[test]
    fn an_unknown_team_is_named_at_its_line_when_teams_are_known() {
        let teams = known_teams();
        let known = Known {
            teams: Some(&teams),
            agents: None,
        };
        let toml = "[[rules]]\nwhen.keywords = \"refund\"\nthen.team = \"billing\"\n\n[[rules]]\nwhen.keywords = \"vip\"\nthen.team = \"vip\"\n";
        let err = RuleSet::parse(toml, Format::Toml, &known).unwrap_err();
        assert_eq!(at(&err), (7, Some(13)), "{err}");
        assert_eq!(err.to_string(), "line 7, column 13: unknown team \"vip\"");
        // Unchecked without `Known`.
        assert!(RuleSet::parse(toml, Format::Toml, &Known::NOTHING).is_ok());

        let yaml = "rules:\n  - when:\n      hours: closed\n      hours_of: night\n    then:\n      ai: true\n";
        let err = RuleSet::parse(yaml, Format::Yaml, &known).unwrap_err();
        assert_eq!(at(&err), (4, Some(17)), "{err}");
    }

    #[test]
    fn an_unknown_agent_is_refused_when_agents_are_known() {
        let agents = vec!["Anna@Example.com".to_owned()];
        let known = Known {
            teams: None,
            agents: Some(&agents),
        };
        let ok = "[[rules]]\nthen.assign = \"anna@example.COM\"\n";
        let rules = RuleSet::parse(ok, Format::Toml, &known).unwrap();
        assert_eq!(
            rules.rules()[0].then.assign.as_deref(),
            Some("anna@example.com")
        );
        let err = RuleSet::parse(
            "[[rules]]\nthen.assign = \"bob@example.com\"\n",
            Format::Toml,
            &known,
        )
        .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("unknown agent"), "{err}");
        let err = toml_err("[[rules]]\nthen.assign = \"bob\"\n");
        assert!(err.message.contains("e-mail"), "{err}");
    }

    #[test]
    fn contradictory_actions_are_named_at_the_later_key() {
        let err = toml_err(
            "[[rules]]\nname = \"x\"\n[rules.then]\nai = true\nreply = \"bye\"\nresolve = true\n",
        );
        assert_eq!(at(&err), (6, Some(1)), "{err}");
        assert!(
            err.message
                .contains("`resolve` cannot be combined with `ai`"),
            "{err}"
        );

        let err = yaml_err("rules:\n  - then:\n      faq: true\n      ai: true\n");
        assert_eq!(at(&err), (4, Some(7)), "{err}");

        let err =
            toml_err("[[rules]]\nthen = { buttons = [{ text = \"Human\", data = \"human\" }] }\n");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("need a `reply`"), "{err}");

        for pair in [
            "team = \"a\"",
            "assign = \"a@example.com\"",
            "handoff = true",
            "faq = true",
        ] {
            let err = toml_err(&format!(
                "[[rules]]\n[rules.then]\nresolve = true\n{pair}\n"
            ));
            assert_eq!(err.line, 4, "{pair}: {err}");
        }
        let err = toml_err("[[rules]]\n[rules.then]\nhandoff = true\nai = true\n");
        assert_eq!(err.line, 4, "{err}");
        // `false` is no action, so no contradiction.
        assert!(
            RuleSet::parse(
                "[[rules]]\nthen = { resolve = true, ai = false }\n",
                Format::Toml,
                &Known::NOTHING
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_priority_is_named_at_its_line() {
        let err = toml_err(
            "[[rules]]\nname = \"vip\"\n[rules.then]\nteam = \"vip\"\npriority = \"critical\"\n",
        );
        assert_eq!(at(&err), (5, Some(12)), "{err}");
        assert!(err.message.contains("priority"), "{err}");
        let err = yaml_err(
            "rules:\n  - name: vip\n    then:\n      team: vip\n      priority: critical\n",
        );
        assert_eq!(at(&err), (5, Some(17)), "{err}");
    }

    #[test]
    fn damaged_files_are_refused_with_a_line_inside_the_file_and_never_panic() {
        let files = [
            (include_str!("../examples/rules.toml"), Format::Toml),
            (include_str!("../examples/rules.yaml"), Format::Yaml),
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        let junk = [
            "",
            "\n",
            "[",
            "]",
            "{",
            "}",
            ":",
            "=",
            "\"",
            "'",
            "- ",
            "  ",
            "x",
            "[[rules]]\n",
            "ж",
            "\t",
            "#",
        ];
        for (source, format) in files {
            let chars: Vec<char> = source.chars().collect();
            let lines = source.lines().count() + 1;
            for _ in 0..150 {
                let at = next(chars.len());
                let cut = next(12);
                let mut damaged: String = chars[..at].iter().collect();
                damaged.push_str(junk[next(junk.len())]);
                damaged.extend(chars[(at + cut).min(chars.len())..].iter());
                if let Err(err) = RuleSet::parse(&damaged, format, &Known::NOTHING) {
                    assert!((1..=lines).contains(&err.line), "{err} in\n{damaged}");
                    assert!(!err.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn the_first_error_in_the_file_is_the_one_reported() {
        let err = toml_err(
            "[[rules]]\n[rules.when]\nchannel = \"fax\"\n[rules.then]\npriority = \"asap\"\n",
        );
        assert_eq!(err.line, 3, "{err}");
        let err = yaml_err("rules:\n  - then: {priority: asap}\n    when: {channel: fax}\n");
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn a_rule_without_actions_is_named_at_the_rule_or_its_then() {
        let err = toml_err(
            "[[rules]]\nname = \"a\"\nthen.faq = true\n\n[[rules]]\nname = \"b\"\nwhen.keywords = \"x\"\n",
        );
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("rule 2 has no `then`"), "{err}");
        let err = toml_err("[[rules]]\n[rules.then]\nfaq = false\n");
        assert_eq!(err.line, 2, "{err}");
        let err = yaml_err("rules:\n  - name: a\n    then: {faq: true}\n  - name: b\n");
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn wrong_types_empty_lists_and_bad_values_are_refused_where_they_are() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[[rules]]\nwhen.channel = 5\nthen.faq = true\n",
                2,
                "must be a string or a list",
            ),
            (
                "[[rules]]\nwhen.channel = []\nthen.faq = true\n",
                2,
                "empty list",
            ),
            (
                "[[rules]]\nwhen.channel = [\"web\",\n  \"fax\"]\nthen.faq = true\n",
                3,
                "unknown channel \"fax\"",
            ),
            (
                "[[rules]]\nwhen.status = \"open\"\nthen.faq = true\n",
                2,
                "unknown status",
            ),
            (
                "[[rules]]\nwhen.rollout = 101\nthen.faq = true\n",
                2,
                "0 to 100",
            ),
            (
                "[[rules]]\nwhen.rollout = -1\nthen.faq = true\n",
                2,
                "0 to 100",
            ),
            (
                "[[rules]]\nwhen.rollout = 10.5\nthen.faq = true\n",
                2,
                "not a float",
            ),
            (
                "[[rules]]\nwhen.tags = [\"has space\"]\nthen.faq = true\n",
                2,
                "invalid tag",
            ),
            (
                "[[rules]]\nwhen.language = \"english\"\nthen.faq = true\n",
                2,
                "invalid language tag",
            ),
            (
                "[[rules]]\nwhen.hours = \"maybe\"\nthen.faq = true\n",
                2,
                "\"open\" or \"closed\"",
            ),
            (
                "[[rules]]\nwhen.command = \"re fund\"\nthen.faq = true\n",
                2,
                "not a bot command",
            ),
            (
                "[[rules]]\nwhen.keywords = [\"!!!\"]\nthen.faq = true\n",
                2,
                "no letters or digits",
            ),
            (
                "[[rules]]\nwhen.attributes = {}\nthen.faq = true\n",
                2,
                "is empty",
            ),
            ("[[rules]]\nthen.faq = \"yes\"\n", 2, "true or false"),
            ("[[rules]]\nthen.reply = \"\"\n", 2, "is empty"),
            (
                "[[rules]]\nthen.reply = { english = \"Hi\" }\n",
                2,
                "invalid language tag",
            ),
            ("[[rules]]\nthen.tags = []\n", 2, "empty list"),
            (
                "[[rules]]\nthen = { reply = \"a\", buttons = [{ text = \"b\" }] }\n",
                2,
                "`text` and `data`",
            ),
            ("rules = 5\n", 1, "must be a list"),
            (
                "[[rules]]\nwhen = 5\nthen.faq = true\n",
                2,
                "must be a table",
            ),
        ];
        for (source, line, message) in cases {
            let err = toml_err(source);
            assert_eq!(err.line, *line, "{source}: {err}");
            assert!(err.message.contains(message), "{source}: {err}");
        }
        let long = format!(
            "[[rules]]\nthen = {{ reply = \"a\", buttons = [{{ text = \"b\", data = \"{}\" }}] }}\n",
            "x".repeat(65)
        );
        assert!(toml_err(&long).message.contains("64 bytes"));
        let err = yaml_err("rules:\n  - when: {channel: web}\n    then: yes\n");
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("must be a mapping"), "{err}");
    }

    #[test]
    fn more_than_a_thousand_rules_or_a_megabyte_are_refused() {
        let many = "[[rules]]\nthen.faq = true\n".repeat(MAX_RULES + 1);
        let err = toml_err(&many);
        assert_eq!(err.line, 2 * MAX_RULES + 1, "{err}");
        assert!(err.message.contains("too many rules"));
        assert_eq!(
            RuleSet::parse(
                &"[[rules]]\nthen.faq = true\n".repeat(MAX_RULES),
                Format::Toml,
                &Known::NOTHING
            )
            .map(|r| r.len()),
            Ok(MAX_RULES)
        );
        let big = format!("# {}\n", "x".repeat(MAX_FILE_BYTES));
        let err = toml_err(&big);
        assert!(err.message.contains("1 MiB"), "{err}");
    }

    #[test]
    fn empty_files_have_no_rules() {
        for (source, format) in [
            ("", Format::Toml),
            ("# nothing yet\n", Format::Toml),
            ("rules = []\n", Format::Toml),
            ("", Format::Yaml),
            ("# nothing yet\n", Format::Yaml),
            ("rules: []\n", Format::Yaml),
        ] {
            let rules = RuleSet::parse(source, format, &Known::NOTHING).unwrap();
            assert!(rules.is_empty(), "{source:?}");
        }
    }

    #[test]
    fn values_are_normalised_when_read() {
        let toml = r#"
[[rules]]
[rules.when]
channel = ["Telegram", "web"]
source = 123456789
command = ["/Refund", "help"]
language = ["ru-RU", "UK"]
tags = "VIP"
status = ["Queued"]
[rules.then]
priority = "High"
tags = ["Returning"]
reply = { en = "Hi", ru = "Привет" }
buttons = [{ text = { en = "Person", ru = "Человек" }, data = "human" }]
"#;
        let rules = RuleSet::parse(toml, Format::Toml, &Known::NOTHING).unwrap();
        let rule = &rules.rules()[0];
        assert_eq!(rule.name, "rule 1");
        assert_eq!(rule.line, 2);
        assert_eq!(rule.when.channels, [Channel::Telegram, Channel::Web]);
        assert_eq!(rule.when.sources, ["123456789"]);
        assert_eq!(rule.when.commands, ["refund", "help"]);
        assert_eq!(rule.when.languages, ["ru", "uk"]);
        assert_eq!(rule.when.tags, [Tag::parse("vip").unwrap()]);
        assert_eq!(rule.when.statuses, [ConversationStatus::Queued]);
        assert_eq!(rule.then.priority, Some(Priority::High));
        assert_eq!(rule.then.tags, [Tag::parse("returning").unwrap()]);
        assert_eq!(rule.then.buttons[0].data, "human");
        let ru = LanguageTag::parse("ru").unwrap();
        assert_eq!(rule.then.buttons[0].text.pick(Some(&ru)), "Человек");
        assert_eq!(
            rule.then.reply.as_ref().map(|r| r.pick(Some(&ru))),
            Some("Привет")
        );
    }

    #[test]
    fn a_toml_rule_may_be_an_inline_table_and_its_line_is_where_it_starts() {
        let toml = "rules = [\n  { name = \"a\", then = { faq = true } },\n\n  { name = \"b\", then = { ai = true } },\n]\n";
        let rules = RuleSet::parse(toml, Format::Toml, &Known::NOTHING).unwrap();
        let lines: Vec<usize> = rules.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        let yaml =
            "# deployment\nrules:\n  - name: a\n    then: {faq: true}\n  - then:\n      ai: true\n";
        let rules = RuleSet::parse(yaml, Format::Yaml, &Known::NOTHING).unwrap();
        let lines: Vec<usize> = rules.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 5]);
    }
}
