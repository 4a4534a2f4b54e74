//! Machine translation for omnidesk: which provider to ask, and what never to ask twice.
//!
//! [`TranslationService`] protects what a translator must not change (URLs, e-mails,
//! handles, ids, code, glossary terms — `omnidesk_language::protect`), looks the text up in
//! an in-process LRU and then the store's cache, and otherwise asks the configured
//! providers in order, skipping one over its daily character limit or failing, and never
//! returning a translation whose placeholders do not restore.
//!
//! The service depends only on the ports of `omnidesk-core` (`Translator`,
//! `TranslationStore`, `Clock`): the providers and the store are given to it, so the local
//! server, the Lambda and the tests share it. [`worker`] is the translate queue's handler (a
//! Lambda on AWS, a worker in `omnidesk serve`); [`config`] reads the deployment's settings
//! and builds the service over the HTTP providers of `omnidesk-providers`.

pub mod config;
mod lru;
pub mod service;
pub mod worker;

pub use config::TranslationConfig;
pub use service::{
    ProviderQuota, ServiceSettings, TranslateFailure, Translated, TranslationService, cache_key,
};
pub use worker::{TranslatorDeps, WorkerSettings, handle, handle_body};
