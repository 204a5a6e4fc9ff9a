//! The config file, as `cs-pulse check` and `cs-pulse run` read it: any text through
//! `Config::parse` (the pure half of `Config::load`), and every rejection rendered the way the
//! user sees it (file:line:column, the snippet with its caret, the hint). Nothing may panic:
//! not the TOML reader, not the validator, not the rendering of a span at the end of the file
//! or inside a multi-byte character.
#![no_main]

use std::path::Path;

use cs_pulse::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Config files are read as UTF-8 text (`read_to_string`); other bytes never reach parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("config.toml"), Path::new("/etc/cs-pulse")) {
        Ok(config) => {
            // What `check` and `run` do next with a valid config, short of I/O.
            let _ = config.channel_names();
            let _ = config.source_context();
            let _ = config.chat.missing_secrets();
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "an error without a diagnostic");
            let rendered = diagnostics.render();
            assert!(rendered.contains("config.toml"), "{rendered}");
            for d in diagnostics.iter() {
                let _ = diagnostics.location(d);
            }
        }
    }
});
