//! The configuration file: the shipped example validates, defaults and relative paths are what
//! config.example.toml says, and broken files get every error at once, pinned by snapshots.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use cs_pulse::config::{
    Access, Audience, ChannelConfig, ChannelKind, ChannelSettings, ChatConfig, Config, ConfigError,
    DataQualityConfig, DiscordChat, DiscordMode, DiscordSettings, JobKind, OwnerIds, Secret,
    ServerConfig, SlackChat, SlackSettings, SourceConfig, SourceKind, WebhookSettings, WebhookUrl,
};
use cs_pulse::model::Currency;
use rust_decimal_macros::dec;

fn fixture(name: &str) -> (String, PathBuf) {
    let path = Path::new("tests/fixtures/config").join(name);
    let src = std::fs::read_to_string(&path).unwrap();
    (src, path)
}

/// The rendered errors of a fixture, with the file named as in the repository.
fn errors(name: &str) -> String {
    let (src, path) = fixture(name);
    match Config::parse(&src, &path, Path::new("tests/fixtures/config")) {
        Ok(c) => panic!("{name} should not validate: {c:?}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn example_config_validates_with_every_key() {
    let c = Config::load(Path::new("config.example.toml")).unwrap();
    assert_eq!(c.timezone, Tz::Europe__Berlin);
    assert_eq!(c.fx().reporting(), Currency::USD);
    assert_eq!(c.fx().rate(Currency::EUR), Some(dec!(1.08)));
    assert_eq!(c.fx().rate("GBP".parse().unwrap()), Some(dec!(1.27)));
    assert_eq!(c.metrics.gross_margin, dec!(0.8));
    assert_eq!(c.metrics.ltv_months, 6);
    assert_eq!(c.metrics.features_available, Some(25));
    // Relative to the directory of the file, which is the repository root here.
    assert_eq!(c.store_path, PathBuf::from("cs-pulse.db"));
    assert_eq!(c.health_model, PathBuf::from("rules/health.toml"));
    assert_eq!(
        c.sources[..2],
        [
            SourceConfig {
                name: "crm".into(),
                kind: SourceKind::Files {
                    dir: PathBuf::from("data/")
                },
            },
            SourceConfig {
                name: "sample".into(),
                kind: SourceKind::Demo {
                    accounts: 500,
                    seed: 42,
                    months: 24
                },
            },
        ]
    );
    // The network sources (their settings are tested with each source).
    let kinds: Vec<(&str, &str, String)> = c.sources[2..]
        .iter()
        .map(|s| (s.name.as_str(), s.kind.word(), s.kind.to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "billing",
                "stripe",
                "Stripe at https://api.stripe.com".into()
            ),
            (
                "hubspot",
                "hubspot",
                "HubSpot at https://api.hubapi.com".into()
            ),
            (
                "product",
                "http_json",
                "JSON from https://analytics.example.com/v1/usage/daily?granularity=…".into()
            ),
        ]
    );
    let secrets: Vec<&str> = c
        .sources
        .iter()
        .filter_map(|s| s.kind.secret())
        .map(|s| s.var())
        .collect();
    assert_eq!(
        secrets,
        ["STRIPE_API_KEY", "HUBSPOT_TOKEN", "ANALYTICS_TOKEN"]
    );
    let jobs: Vec<(&str, &JobKind, String, chrono::Duration)> = c
        .jobs
        .iter()
        .map(|j| (j.name.as_str(), &j.kind, j.schedule.to_string(), j.grace))
        .collect();
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        jobs[0].1,
        &JobKind::Sync {
            sources: Some(vec!["crm".into()])
        }
    );
    assert_eq!(
        (jobs[1].0, jobs[1].1, jobs[1].3),
        (
            "evaluate",
            &JobKind::Evaluate,
            chrono::Duration::minutes(30)
        )
    );
    assert_eq!(
        jobs[2].1,
        &JobKind::Scorecard {
            scorecard: Some("leadership".into())
        }
    );
    assert_eq!(c.jobs[2].schedule.timezone(), Tz::Europe__Berlin);
    assert_eq!(c.jobs[2].grace, chrono::Duration::days(7));
}

#[test]
fn example_config_routes_rules_to_its_channels() {
    let c = Config::load(Path::new("config.example.toml")).unwrap();
    assert_eq!(c.rules_paths, vec![PathBuf::from("rules/")]);
    assert_eq!(
        c.channel_names(),
        ["console", "cs-team", "cs-leads", "revops", "ops"]
    );
    assert_eq!(
        c.channels[1],
        ChannelConfig {
            name: "cs-team".into(),
            kind: ChannelKind::Discord,
            description: Some("The #customer-success channel".into()),
            settings: ChannelSettings::Discord(DiscordSettings {
                channel_id: 1234567890123456789,
                token: Secret::from_env_var("DISCORD_TOKEN"),
                api_base: None,
            }),
        }
    );
    assert_eq!(
        c.channels[3].settings,
        ChannelSettings::Slack(SlackSettings::Bot {
            token: Secret::from_env_var("SLACK_BOT_TOKEN"),
            channel: "C0123456789".into(),
            api_base: None,
        })
    );
    assert_eq!(
        c.channels[4].settings,
        ChannelSettings::Webhook(WebhookSettings {
            url: WebhookUrl::Plain("https://hooks.example.com/cs-pulse".into()),
            signing_secret: Some(Secret::from_env_var("CS_PULSE_WEBHOOK_SECRET")),
        })
    );
    assert_eq!(
        c.owners["Alice Martin"],
        OwnerIds {
            discord: Some(234567890123456789),
            slack: Some("U0123ABCD".into()),
        }
    );
    assert_eq!(c.data_quality, DataQualityConfig::default());
}

#[test]
fn rules_channels_and_data_quality_defaults() {
    let c = Config::parse("", Path::new("c.toml"), Path::new("/srv/cs")).unwrap();
    assert_eq!(c.rules_paths, vec![PathBuf::from("/srv/cs/rules/")]);
    assert_eq!(c.channels, vec![ChannelConfig::default_console()]);
    assert_eq!(c.channels[0].kind, ChannelKind::Console);
    assert_eq!(c.data_quality.max_age, chrono::Duration::hours(36));
    assert_eq!(c.data_quality.min_accounts_ratio, dec!(0.8));
    assert!(c.data_quality.enabled);
    let src = "[rules]\npaths = [\"alerts\", \"/etc/cs/extra.toml\"]\n[channels.slack-cs]\nkind = \"slack\"\nurl = \"${SLACK_URL}\"\n[data_quality]\nmax_age = \"2d\"\nmin_accounts_ratio = \"0.5\"\nenabled = false\n";
    let c = Config::parse(src, Path::new("c.toml"), Path::new("/srv/cs")).unwrap();
    assert_eq!(
        c.rules_paths,
        vec![
            PathBuf::from("/srv/cs/alerts"),
            PathBuf::from("/etc/cs/extra.toml")
        ]
    );
    // A configured channel replaces the default `console`.
    assert_eq!(c.channel_names(), ["slack-cs"]);
    assert_eq!(
        c.data_quality,
        DataQualityConfig {
            max_age: chrono::Duration::days(2),
            min_accounts_ratio: dec!(0.5),
            enabled: false,
        }
    );
    let demo = Config::demo("demo.db");
    assert_eq!(demo.channel_names(), ["console"]);
    assert_eq!(demo.rules_paths, vec![PathBuf::from("rules/")]);
}

#[test]
fn channel_and_data_quality_errors_at_once() {
    insta::assert_snapshot!(errors("broken_channels.toml"));
}

#[test]
fn example_health_model_path_points_at_the_shipped_file() {
    let c = Config::load(Path::new("config.example.toml")).unwrap();
    cs_pulse::metrics::HealthModels::load(&c.health_model).unwrap();
}

#[test]
fn an_empty_file_gives_every_default() {
    let c = Config::parse("", Path::new("cs-pulse.toml"), Path::new("")).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.timezone, Tz::UTC);
    assert_eq!(c.fx().reporting(), Currency::USD);
    assert_eq!(c.fx().currencies().count(), 1);
    assert_eq!(c.store_path, PathBuf::from("cs-pulse.db"));
    assert_eq!(c.health_model, PathBuf::from("rules/health.toml"));
    assert_eq!(c.metrics.gross_margin, dec!(1));
    assert_eq!(c.metrics.ltv_months, 6);
    assert_eq!(c.metrics.features_available, None);
    assert!(c.sources.is_empty());
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let src = r#"
[store]
path = "state/pulse.db"
[health]
model = "/etc/cs-pulse/health.toml"
[sources.crm]
kind = "files"
path = "exports"
"#;
    let c = Config::parse(src, Path::new("conf/cs-pulse.toml"), Path::new("/srv/cs")).unwrap();
    assert_eq!(c.store_path, PathBuf::from("/srv/cs/state/pulse.db"));
    // Absolute paths stay as they are.
    assert_eq!(c.health_model, PathBuf::from("/etc/cs-pulse/health.toml"));
    assert_eq!(
        c.sources[0].kind,
        SourceKind::Files {
            dir: PathBuf::from("/srv/cs/exports")
        }
    );
    // Defaults are relative to the config directory too.
    let c = Config::parse("", Path::new("x.toml"), Path::new("/srv/cs")).unwrap();
    assert_eq!(c.store_path, PathBuf::from("/srv/cs/cs-pulse.db"));
    assert_eq!(c.health_model, PathBuf::from("/srv/cs/rules/health.toml"));
}

#[test]
fn load_resolves_against_the_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs-pulse.toml");
    std::fs::write(&path, "[store]\npath = \"db/x.db\"\n").unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.store_path, dir.path().join("db/x.db"));
}

#[test]
fn rates_are_exact_from_floats_strings_and_integers() {
    let src = "reporting_currency = \"eur\"\n[fx]\nUSD = 0.925925\ngbp = \"1.17\"\nCHF = 1\n";
    let c = Config::parse(src, Path::new("c.toml"), Path::new("")).unwrap();
    assert_eq!(c.fx().reporting(), Currency::EUR);
    assert_eq!(c.fx().rate(Currency::USD), Some(dec!(0.925925)));
    assert_eq!(c.fx().rate("GBP".parse().unwrap()), Some(dec!(1.17)));
    assert_eq!(c.fx().rate("CHF".parse().unwrap()), Some(dec!(1)));
}

#[test]
fn rates_above_a_million_are_errors_at_their_value() {
    let src = "[fx]\nEUR = 1.08\nXAU = 2000000\n";
    let err = Config::parse(src, Path::new("c.toml"), Path::new("")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("c.toml:3:7")
            && text.contains("the exchange rate of XAU is too large: 2000000 (at most 1000000)"),
        "{text}"
    );
}

#[test]
fn demo_sources_default_their_settings() {
    let c = Config::parse(
        "[sources.sample]\nkind = \"demo\"\nseed = 7\n",
        Path::new("c.toml"),
        Path::new(""),
    )
    .unwrap();
    assert_eq!(
        c.sources[0].kind,
        SourceKind::Demo {
            accounts: 500,
            seed: 7,
            months: 24
        }
    );
}

#[test]
fn the_demo_config_needs_no_file() {
    let c = Config::demo("demo.db");
    assert_eq!(c.store_path, PathBuf::from("demo.db"));
    assert_eq!(c.fx().rate(Currency::EUR), Some(dec!(1.08)));
    assert_eq!(c.sources.len(), 1);
    assert_eq!(c.sources[0].kind, SourceKind::DEMO_DEFAULT);
}

#[test]
fn a_missing_file_says_how_to_create_one() {
    let e = Config::load(Path::new("tests/fixtures/config/nope.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("cannot read tests/fixtures/config/nope.toml: ")
            && msg.ends_with(" — create one from config.example.toml"),
        "{msg}"
    );
}

#[test]
fn every_validation_error_at_once() {
    let (src, path) = fixture("broken.toml");
    let e = Config::parse(&src, &path, Path::new("")).unwrap_err();
    assert_eq!(e.len(), 14, "{e}");
    insta::assert_snapshot!(errors("broken.toml"));
}

#[test]
fn unknown_key_suggests_the_closest() {
    insta::assert_snapshot!(errors("unknown_key.toml"));
}

#[test]
fn syntax_error() {
    insta::assert_snapshot!(errors("syntax.toml"));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(errors("wrong_type.toml"));
}

#[test]
fn load_reports_invalid_files_as_diagnostics() {
    let e = Config::load(Path::new("tests/fixtures/config/unknown_key.toml")).unwrap_err();
    let ConfigError::Invalid(d) = e else {
        panic!("expected diagnostics")
    };
    assert_eq!(d.len(), 1);
}

#[test]
fn never_panics_on_truncated_or_mangled_files() {
    for name in ["broken.toml", "syntax.toml", "broken_channels.toml"] {
        let (src, path) = fixture(name);
        check_prefixes(&src, &path);
    }
    let example = std::fs::read_to_string("config.example.toml").unwrap();
    check_prefixes(&example, Path::new("config.example.toml"));
}

/// Parses every prefix of `src` and every version with one byte replaced by a quote, rendering
/// any errors: nothing may panic.
fn check_prefixes(src: &str, path: &Path) {
    let cuts = (0..=src.len()).filter(|i| src.is_char_boundary(*i));
    for i in cuts {
        let mangled = format!("{}\"{}", &src[..i], &src[i..]);
        for text in [&src[..i], mangled.as_str()] {
            if let Err(d) = Config::parse(text, path, Path::new("")) {
                assert!(!d.to_string().is_empty());
            }
        }
    }
}

#[test]
fn example_config_answers_no_chat_until_uncommented() {
    let c = Config::load(Path::new("config.example.toml")).unwrap();
    assert_eq!(c.chat, ChatConfig::default());
    assert_eq!(c.server, None);
    assert!(c.chat.missing_secrets().is_empty());
}

#[test]
fn example_chat_keys_validate_when_uncommented() {
    // Every commented-out `[server]` and `[chat.*]` line of the example, uncommented.
    let example = std::fs::read_to_string("config.example.toml").unwrap();
    let start = example.find("# [server]").unwrap();
    let end = example.find("# Owners as named in the data").unwrap();
    let uncommented: String = example[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            (l.starts_with('[') && l.ends_with(']'))
                || l.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let c = Config::parse(&uncommented, Path::new("c.toml"), Path::new(""))
        .unwrap_or_else(|d| panic!("{uncommented}\n{d}"));
    assert_eq!(c.server.unwrap().listen.to_string(), "127.0.0.1:8080");
    let discord = c.chat.discord.unwrap();
    assert_eq!(discord.mode, DiscordMode::Gateway);
    assert_eq!(
        discord.access.act,
        only(&["3456789012345678901", "4567890123456789012"])
    );
    let slack = c.chat.slack.unwrap();
    assert_eq!(slack.access.revenue, only(&["U0123ABCD", "U0456EFGH"]));
}

fn only(ids: &[&str]) -> Audience {
    Audience::Only(ids.iter().map(|s| s.to_string()).collect())
}

#[test]
fn chat_and_server_validate_into_typed_settings() {
    let src = r#"
[server]
listen = "0.0.0.0:8080"
[chat.discord]
application_id = 1234567890123456789
guild_id = "2345678901234567890"
token = "${CS_PULSE_TEST_CHAT_TOKEN_UNSET}"
mode = "http"
public_key = "D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A"
api_base = "http://127.0.0.1:9999/"
revenue_roles = []
[chat.slack]
signing_secret = "${CS_PULSE_TEST_SLACK_SECRET_UNSET}"
act_users = ["U0123ABCD", "W0123ABCD"]
"#;
    let c = Config::parse(src, Path::new("c.toml"), Path::new("")).unwrap();
    assert_eq!(
        c.server,
        Some(ServerConfig {
            listen: "0.0.0.0:8080".parse().unwrap()
        })
    );
    assert_eq!(
        c.chat.discord,
        Some(DiscordChat {
            application_id: 1234567890123456789,
            guild_id: 2345678901234567890,
            token: Secret::from_env_var("CS_PULSE_TEST_CHAT_TOKEN_UNSET"),
            mode: DiscordMode::Http,
            // Kept lowercase, as Discord shows it.
            public_key: Some(
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into()
            ),
            api_base: Some("http://127.0.0.1:9999".into()),
            access: Access {
                // An empty list is no one; an absent key everyone.
                revenue: Audience::Only(Default::default()),
                act: Audience::Everyone,
            },
        })
    );
    assert_eq!(
        c.chat.slack,
        Some(SlackChat {
            signing_secret: Secret::from_env_var("CS_PULSE_TEST_SLACK_SECRET_UNSET"),
            access: Access {
                revenue: Audience::Everyone,
                act: only(&["U0123ABCD", "W0123ABCD"]),
            },
        })
    );
    let missing: Vec<String> = c
        .chat
        .missing_secrets()
        .iter()
        .map(|m| m.to_string())
        .collect();
    insta::assert_snapshot!(missing.join("\n"));
    // The gateway needs no server; a server alone answers no commands.
    let gateway = "[chat.discord]\napplication_id = \"1\"\nguild_id = \"2\"\ntoken = \"${T}\"\n";
    let c = Config::parse(gateway, Path::new("c.toml"), Path::new("")).unwrap();
    assert_eq!(c.chat.discord.unwrap().mode, DiscordMode::Gateway);
    assert_eq!(c.server, None);
    let c = Config::parse(
        "[server]\nlisten = \"[::1]:80\"\n",
        Path::new("c.toml"),
        Path::new(""),
    )
    .unwrap();
    assert_eq!(c.chat, ChatConfig::default());
    assert!(c.server.is_some());
}

#[test]
fn chat_errors_at_once() {
    let text = errors("broken_chat.toml");
    // A secret pasted into the file is not shown back, not even in the snippet.
    assert!(!text.contains("secret-token-pasted-here"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn chat_needs_a_server_and_http_mode_a_public_key() {
    insta::assert_snapshot!(errors("chat_needs_server.toml"));
}

#[test]
fn chat_unknown_keys_are_errors() {
    for src in [
        "[chat.teams]\nx = 1\n",
        "[chat.discord]\nroles = []\n",
        "[chat.slack]\nsigning_secret = \"${S}\"\nrevenue_roles = []\n",
        "[server]\nport = 8080\n",
    ] {
        let e = Config::parse(src, Path::new("c.toml"), Path::new("")).unwrap_err();
        assert_eq!(e.len(), 1, "{src}: {e}");
        assert!(e.to_string().contains("unknown key"), "{src}: {e}");
    }
    let e = Config::parse("[server]\n", Path::new("c.toml"), Path::new("")).unwrap_err();
    insta::assert_snapshot!("server_without_listen", e.to_string());
}

#[test]
fn chat_files_never_panic_when_mangled() {
    for name in ["broken_chat.toml", "chat_needs_server.toml"] {
        let (src, path) = fixture(name);
        check_prefixes(&src, &path);
    }
}
