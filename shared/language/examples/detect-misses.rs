//! Prints misdetected lingua samples: `cargo run -p omnidesk-language --example detect-misses -- LANG FILE [N]`

#[path = "../tests/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use omnidesk_language::Detector;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (lang, file) = (&args[1], &args[2]);
    let limit: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20);
    let detector = Detector::new(&corpus::allowlist()).expect("allowlist");
    let (_, dir) = corpus::LANGUAGES
        .iter()
        .find(|(c, _)| c == lang)
        .expect("language");
    for s in corpus::samples(dir, file)
        .into_iter()
        .map(|s| (s, detector.detect(s, None)))
        .filter(|(_, d)| d.language.as_deref() != Some(lang.as_str()))
        .take(limit)
    {
        println!("{:?}", s);
    }
}
