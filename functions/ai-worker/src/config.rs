//! The AI's configuration, read the same way by both runtimes.

use std::time::Duration;

use omnidesk_router::AiMode;

/// How the AI answers (`OMNIDESK_AI*` and the provider's variables).
#[derive(Debug, Clone)]
pub struct AiConfig {
    pub mode: AiMode,
    /// `OMNIDESK_AI_MODEL`: the model (OpenAI) or model id / inference profile (Bedrock).
    pub model: String,
    /// `OPENAI_BASE_URL` (up to and including `/v1`).
    pub openai_base_url: String,
    /// `OPENAI_API_KEY` (none: no `Authorization`, as Ollama or a local vLLM want).
    pub openai_api_key: Option<String>,
    pub settings: AiSettings,
}

/// What the worker does, whichever provider answers.
#[derive(Debug, Clone)]
pub struct AiSettings {
    /// `OMNIDESK_AI_TIMEOUT_SECS` (default 8): a provider slower than this hands over.
    pub timeout: Duration,
    /// `OMNIDESK_AI_HISTORY` (default 12): the last messages given in full.
    pub history: usize,
    /// Tokens the recent messages may take in a prompt (about 4 characters a token).
    pub history_tokens: usize,
    /// `OMNIDESK_AI_MAX_TURNS` (default 5): AI answers before it hands over anyway.
    pub max_turns: u32,
    /// `OMNIDESK_AI_CONVERSATION_TOKENS` (default 20,000): tokens per conversation.
    pub conversation_tokens: u64,
    /// `OMNIDESK_AI_DAILY_TOKENS` (unset: no limit): tokens per UTC day for the deployment.
    pub daily_tokens: Option<u64>,
    /// `OMNIDESK_AI_PRICE_INPUT` / `OMNIDESK_AI_PRICE_OUTPUT`: US dollars per million tokens
    /// (defaults: gpt-4o-mini's 0.15 / 0.60), for the cost recorded with each call.
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    /// FAQ entries retrieved into a model's prompt.
    pub faq_in_prompt: usize,
    /// The longest answer the model may write, in tokens.
    pub max_answer_tokens: u32,
}

impl Default for AiSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(8),
            history: 12,
            history_tokens: 1500,
            max_turns: 5,
            conversation_tokens: 20_000,
            daily_tokens: None,
            price_input_per_mtok: 0.15,
            price_output_per_mtok: 0.60,
            faq_in_prompt: 3,
            max_answer_tokens: 400,
        }
    }
}

/// OpenAI's endpoint.
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
/// The default model for `openai`.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
/// The default model for `bedrock`.
pub const DEFAULT_BEDROCK_MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

impl AiConfig {
    /// Reads the variables through `lookup`; unset or blank ones keep their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mode = match get("OMNIDESK_AI") {
            Some(v) => AiMode::parse(&v)?,
            None => AiMode::default(),
        };
        let whole = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: expected a whole number, got {v:?}"))
                })
                .transpose()
        };
        let price = |name: &str| -> Result<Option<f64>, String> {
            get(name)
                .map(|v| match v.trim().parse::<f64>() {
                    Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
                    _ => Err(format!(
                        "{name}: expected US dollars per million tokens, got {v:?}"
                    )),
                })
                .transpose()
        };
        let mut settings = AiSettings::default();
        if let Some(secs) = whole("OMNIDESK_AI_TIMEOUT_SECS")? {
            if !(1..=120).contains(&secs) {
                return Err(format!(
                    "OMNIDESK_AI_TIMEOUT_SECS: between 1 and 120 seconds, got {secs}"
                ));
            }
            settings.timeout = Duration::from_secs(secs);
        }
        if let Some(n) = whole("OMNIDESK_AI_HISTORY")? {
            if !(1..=100).contains(&n) {
                return Err(format!("OMNIDESK_AI_HISTORY: between 1 and 100, got {n}"));
            }
            settings.history = n as usize;
        }
        if let Some(n) = whole("OMNIDESK_AI_MAX_TURNS")? {
            settings.max_turns = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = whole("OMNIDESK_AI_CONVERSATION_TOKENS")? {
            settings.conversation_tokens = n;
        }
        settings.daily_tokens = whole("OMNIDESK_AI_DAILY_TOKENS")?;
        if let Some(p) = price("OMNIDESK_AI_PRICE_INPUT")? {
            settings.price_input_per_mtok = p;
        }
        if let Some(p) = price("OMNIDESK_AI_PRICE_OUTPUT")? {
            settings.price_output_per_mtok = p;
        }
        let model = get("OMNIDESK_AI_MODEL").unwrap_or_else(|| {
            match mode {
                AiMode::Bedrock => DEFAULT_BEDROCK_MODEL,
                _ => DEFAULT_OPENAI_MODEL,
            }
            .to_owned()
        });
        let openai_base_url = get("OPENAI_BASE_URL")
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| OPENAI_URL.to_owned());
        if mode == AiMode::OpenAi
            && !(openai_base_url.starts_with("http://") || openai_base_url.starts_with("https://"))
        {
            return Err(format!(
                "OPENAI_BASE_URL: expected an http(s) URL, got {openai_base_url:?}"
            ));
        }
        Ok(Self {
            mode,
            model,
            openai_base_url,
            openai_api_key: get("OPENAI_API_KEY"),
            settings,
        })
    }

    /// The model `mode` names, or `None` for the knowledge base (and `off`). `sdk` is the AWS
    /// configuration Bedrock is called with (`None` where the runtime has none: Bedrock is
    /// then an error).
    pub fn llm(
        &self,
        sdk: Option<&omnidesk_aws::aws_config::SdkConfig>,
    ) -> Result<Option<std::sync::Arc<dyn omnidesk_core::Llm>>, String> {
        // The provider's own timeout is the worker's, plus a little: the worker's cut is the
        // one the customer sees.
        let timeout = self.settings.timeout + Duration::from_secs(1);
        Ok(match self.mode {
            AiMode::Off | AiMode::Kb => None,
            AiMode::OpenAi => Some(std::sync::Arc::new(omnidesk_providers::OpenAiLlm::new(
                omnidesk_providers::OpenAiLlmSettings::new(
                    self.openai_base_url.clone(),
                    self.openai_api_key.clone(),
                    self.model.clone(),
                )
                .with_timeout(timeout),
            ))),
            AiMode::Bedrock => {
                let sdk = sdk.ok_or("OMNIDESK_AI=bedrock needs AWS credentials and a region")?;
                Some(std::sync::Arc::new(omnidesk_aws::BedrockLlm::from_conf(
                    sdk,
                    self.model.clone(),
                    timeout,
                )))
            }
        })
    }

    /// The cost of `usage`, in millionths of a dollar.
    pub fn cost_micros(settings: &AiSettings, usage: omnidesk_core::TokenUsage) -> u64 {
        let dollars = f64::from(usage.input) * settings.price_input_per_mtok / 1e6
            + f64::from(usage.output) * settings.price_output_per_mtok / 1e6;
        (dollars * 1e6).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_knowledge_base_with_an_8_second_timeout() {
        let c = AiConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.mode, AiMode::Kb);
        assert_eq!(c.settings.timeout, Duration::from_secs(8));
        assert_eq!(c.settings.history, 12);
        assert_eq!(c.model, DEFAULT_OPENAI_MODEL);
    }

    #[test]
    fn variables_are_read_and_bad_values_name_the_variable() {
        let c = AiConfig::from_lookup(|n| match n {
            "OMNIDESK_AI" => Some("bedrock".into()),
            "OMNIDESK_AI_TIMEOUT_SECS" => Some("3".into()),
            "OMNIDESK_AI_HISTORY" => Some("20".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.mode, AiMode::Bedrock);
        assert_eq!(c.model, DEFAULT_BEDROCK_MODEL);
        assert_eq!(c.settings.timeout, Duration::from_secs(3));
        assert_eq!(c.settings.history, 20);
        for (name, value) in [
            ("OMNIDESK_AI", "gpt"),
            ("OMNIDESK_AI_TIMEOUT_SECS", "0"),
            ("OMNIDESK_AI_HISTORY", "many"),
            ("OMNIDESK_AI_PRICE_INPUT", "-1"),
        ] {
            let e = AiConfig::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn cost_uses_the_configured_prices() {
        let s = AiSettings::default();
        let usage = omnidesk_core::TokenUsage {
            input: 1_000_000,
            output: 100_000,
        };
        // 0.15 + 0.06 dollars.
        assert_eq!(AiConfig::cost_micros(&s, usage), 210_000);
    }
}
