use std::collections::HashMap;
use std::time::Duration;

use omnidesk_providers::{
    PROVIDER_VARIABLES, ProviderSetting, ProviderSettings, build_http_translator,
    provider_settings_from,
};
use secrecy::ExposeSecret;

fn lookup(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    move |name| map.get(name).map(|v| (*v).to_owned())
}

#[track_caller]
fn error_of(vars: &[(&'static str, &'static str)]) -> String {
    match provider_settings_from(lookup(vars)) {
        Err(e) => e,
        Ok(s) => panic!("expected an error, got {s:?}"),
    }
}

#[test]
fn no_translator_listed_means_no_providers_and_reads_nothing_else() {
    assert!(provider_settings_from(lookup(&[])).unwrap().is_empty());
    let none = provider_settings_from(lookup(&[
        ("OMNIDESK_TRANSLATOR", " , "),
        ("OMNIDESK_TRANSLATE_TIMEOUT_SECS", "soon"),
    ]))
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn the_fallback_order_and_each_providers_settings_are_read() {
    let settings = provider_settings_from(lookup(&[
        ("OMNIDESK_TRANSLATOR", "DeepL, google,amazon , openai"),
        ("OMNIDESK_TRANSLATE_TIMEOUT_SECS", "2.5"),
        ("DEEPL_AUTH_KEY", "deepl-key:fx"),
        ("GOOGLE_TRANSLATE_KEY", "google-key"),
        ("GOOGLE_TRANSLATE_URL", "http://127.0.0.1:9000"),
        ("OPENAI_BASE_URL", "http://localhost:11434/v1"),
        ("OMNIDESK_TRANSLATE_MODEL", "qwen2.5:7b"),
    ]))
    .unwrap();
    let names: Vec<&str> = settings.iter().map(ProviderSetting::name).collect();
    assert_eq!(names, ["deepl", "google", "amazon", "openai"]);
    let timeout = Duration::from_millis(2500);
    let ProviderSetting::Deepl(d) = &settings[0] else {
        panic!("deepl first")
    };
    assert_eq!(d.auth_key.expose_secret(), "deepl-key:fx");
    assert_eq!(d.base_url, "https://api-free.deepl.com");
    assert_eq!(d.timeout, timeout);
    let ProviderSetting::Google(g) = &settings[1] else {
        panic!("google second")
    };
    assert_eq!(g.base_url, "http://127.0.0.1:9000");
    assert!(matches!(settings[2], ProviderSetting::Amazon { timeout: t } if t == timeout));
    let ProviderSetting::OpenAi(o) = &settings[3] else {
        panic!("openai last")
    };
    assert!(o.api_key.is_none());
    assert_eq!(o.model, "qwen2.5:7b");
    assert_eq!(o.base_url, "http://localhost:11434/v1");

    let built: Vec<Option<String>> = settings
        .iter()
        .map(|s| build_http_translator(s).map(|t| t.name().to_owned()))
        .collect();
    assert_eq!(
        built,
        [
            Some("deepl".to_owned()),
            Some("google".to_owned()),
            None,
            Some("openai".to_owned())
        ]
    );
}

#[test]
fn defaults_are_the_pro_endpoint_eight_seconds_and_gpt_4o_mini() {
    let settings = ProviderSettings::from_lookup(lookup(&[
        ("OMNIDESK_TRANSLATOR", "deepl,openai"),
        ("DEEPL_AUTH_KEY", "pro-key"),
        ("OPENAI_API_KEY", "sk-x"),
    ]))
    .unwrap();
    let [ProviderSetting::Deepl(d), ProviderSetting::OpenAi(o)] = &settings.providers[..] else {
        panic!("{settings:?}")
    };
    assert_eq!(d.base_url, "https://api.deepl.com");
    assert_eq!(d.timeout, Duration::from_secs(8));
    assert_eq!(o.base_url, "https://api.openai.com/v1");
    assert_eq!(o.model, "gpt-4o-mini");
    assert!(!format!("{settings:?}").contains("pro-key"));
    assert!(!format!("{settings:?}").contains("sk-x"));
}

#[test]
fn configuration_errors_name_the_variable() {
    let cases: &[(&[(&'static str, &'static str)], &str)] = &[
        (
            &[("OMNIDESK_TRANSLATOR", "deepl,bing")],
            "OMNIDESK_TRANSLATOR: unknown provider `bing`",
        ),
        (&[("OMNIDESK_TRANSLATOR", "amazon,amazon")], "listed twice"),
        (
            &[("OMNIDESK_TRANSLATOR", "deepl")],
            "DEEPL_AUTH_KEY is required",
        ),
        (
            &[("OMNIDESK_TRANSLATOR", "deepl"), ("DEEPL_AUTH_KEY", "  ")],
            "DEEPL_AUTH_KEY is required",
        ),
        (
            &[("OMNIDESK_TRANSLATOR", "google")],
            "GOOGLE_TRANSLATE_KEY is required",
        ),
        (
            &[("OMNIDESK_TRANSLATOR", "openai")],
            "OPENAI_API_KEY is required",
        ),
        (
            &[
                ("OMNIDESK_TRANSLATOR", "deepl"),
                ("DEEPL_AUTH_KEY", "k"),
                ("DEEPL_API_URL", "api.deepl.com"),
            ],
            "DEEPL_API_URL",
        ),
        (
            &[
                ("OMNIDESK_TRANSLATOR", "google"),
                ("GOOGLE_TRANSLATE_KEY", "k"),
                ("GOOGLE_TRANSLATE_URL", "ftp://x"),
            ],
            "GOOGLE_TRANSLATE_URL",
        ),
        (
            &[
                ("OMNIDESK_TRANSLATOR", "openai"),
                ("OPENAI_BASE_URL", "localhost:11434"),
            ],
            "OPENAI_BASE_URL",
        ),
        (
            &[
                ("OMNIDESK_TRANSLATOR", "amazon"),
                ("OMNIDESK_TRANSLATE_TIMEOUT_SECS", "0"),
            ],
            "OMNIDESK_TRANSLATE_TIMEOUT_SECS",
        ),
        (
            &[
                ("OMNIDESK_TRANSLATOR", "amazon"),
                ("OMNIDESK_TRANSLATE_TIMEOUT_SECS", "8s"),
            ],
            "OMNIDESK_TRANSLATE_TIMEOUT_SECS",
        ),
    ];
    for (vars, needle) in cases {
        let e = error_of(vars);
        assert!(e.contains(needle), "{vars:?}: {e}");
    }
}

#[test]
fn every_variable_read_is_documented() {
    let documented: Vec<&str> = PROVIDER_VARIABLES.iter().map(|(name, _)| *name).collect();
    for name in [
        "OMNIDESK_TRANSLATOR",
        "OMNIDESK_TRANSLATE_TIMEOUT_SECS",
        "DEEPL_AUTH_KEY",
        "DEEPL_API_URL",
        "GOOGLE_TRANSLATE_KEY",
        "GOOGLE_TRANSLATE_URL",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OMNIDESK_TRANSLATE_MODEL",
    ] {
        assert!(documented.contains(&name), "{name}");
    }
}
