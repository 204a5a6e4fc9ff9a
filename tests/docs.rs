//! docs/metrics.md must carry the registry's current reference: the generated part is compared
//! with `cs_pulse::metrics::docs::reference_markdown()`. Run with `UPDATE_DOCS=1` to rewrite it.

use cs_pulse::metrics::docs::{reference_markdown, BEGIN, END};

#[test]
fn metrics_doc_matches_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");
    let doc = std::fs::read_to_string(path).expect("docs/metrics.md exists");
    let generated = format!("{BEGIN}\n\n{}{END}\n", reference_markdown());
    let current = match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) => &doc[b..e + END.len() + 1],
        _ => "",
    };
    if current == generated {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let head = doc.find(BEGIN).map_or(doc.as_str(), |b| &doc[..b]);
        let tail = doc
            .find(END)
            .map_or("", |e| &doc[(e + END.len() + 1).min(doc.len())..]);
        std::fs::write(path, format!("{head}{generated}{tail}")).expect("write docs/metrics.md");
        return;
    }
    panic!("docs/metrics.md is out of date with the metric registry: run `UPDATE_DOCS=1 cargo test --test docs`");
}
