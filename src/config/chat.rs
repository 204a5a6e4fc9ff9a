//! `[chat]` and `[server]`: how people talk to cs-pulse. Which platforms' commands are answered
//! (Discord through the gateway or the HTTP interactions endpoint, Slack's `/cs`), with which
//! credentials (`${ENV}` secrets), and who may see revenue figures or act on alerts.
//!
//! Read raw ([`super::raw::RawChat`], [`super::raw::RawServer`]) and validated here like
//! `[channels]`: every error at once, each with its span and a hint.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! [chat.discord]
//! application_id = "1234567890123456789"
//! guild_id = "2345678901234567890"
//! token = "${DISCORD_TOKEN}"
//! mode = "gateway"                   # or "http": needs `public_key` and [server]
//! revenue_roles = ["3456789012345678901"]   # absent: everyone; []: no one
//! act_roles = ["3456789012345678901"]
//! [chat.slack]                         # needs [server]
//! signing_secret = "${SLACK_SIGNING_SECRET}"
//! revenue_users = ["U0123ABCD", "S0123ABCD"]
//! act_users = ["U0123ABCD"]
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::ops::Range;

use toml::Spanned;

use super::raw::{RawChat, RawDiscordChat, RawServer, RawSlackChat, Snowflake};
use super::{toml_file, MissingSecret, Secret, Validator};

/// The validated `[chat]` table; both platforms are off when it is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatConfig {
    pub discord: Option<DiscordChat>,
    pub slack: Option<SlackChat>,
}

/// `[chat.discord]`: the application whose slash commands cs-pulse answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscordChat {
    /// The application's id (a snowflake).
    pub application_id: u64,
    /// The guild the commands are registered in.
    pub guild_id: u64,
    /// The bot token (`${DISCORD_TOKEN}`).
    pub token: Secret,
    /// How interactions arrive.
    pub mode: DiscordMode,
    /// The application's public key (64 hex characters), which signs requests to the HTTP
    /// interactions endpoint; required with `mode = "http"`. Not a secret.
    pub public_key: Option<String>,
    /// The REST API's base URL when not Discord's own (a proxy, a test server).
    pub api_base: Option<String>,
    /// Who may see revenue figures and who may snooze or acknowledge, by role id.
    pub access: Access,
}

/// How Discord delivers interactions to cs-pulse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiscordMode {
    /// cs-pulse connects to Discord's gateway (a WebSocket) with poise/serenity.
    #[default]
    Gateway,
    /// Discord POSTs interactions to `[server] listen` at `/discord/interactions`.
    Http,
}

/// `[chat.slack]`: the Slack app whose `/cs` command and buttons cs-pulse answers at
/// `/slack/commands` and `/slack/interactions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackChat {
    /// The app's signing secret (`${SLACK_SIGNING_SECRET}`).
    pub signing_secret: Secret,
    /// Who may see revenue figures and who may snooze or acknowledge, by user id.
    pub access: Access,
}

/// Permissions of one platform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Who may see revenue metrics (MRR, ARR, NRR, ...).
    pub revenue: Audience,
    /// Who may snooze and acknowledge alerts.
    pub act: Audience,
}

/// Who holds a permission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// Everyone who can run the commands (the key is absent).
    #[default]
    Everyone,
    /// Holders of one of these ids (Discord role ids, Slack user ids); an empty list is no one.
    Only(BTreeSet<String>),
}

impl Audience {
    /// Whether a caller holding `ids` (their roles, or their own user id) is in the audience.
    pub fn admits<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Only(set) => ids.any(|id| set.contains(id)),
        }
    }
}

/// `[server]`: the HTTP server of `cs-pulse run` (interaction endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen, like `127.0.0.1:8080`.
    pub listen: SocketAddr,
}

impl ChatConfig {
    /// Each configured platform's secret whose environment variable is unset or empty, for
    /// `cs-pulse check` to warn about (the service's environment may differ from the shell's).
    pub fn missing_secrets(&self) -> Vec<MissingSecret> {
        let discord = self
            .discord
            .as_ref()
            .map(|d| (&d.token, "Discord bot token of [chat.discord]"));
        let slack = self
            .slack
            .as_ref()
            .map(|s| (&s.signing_secret, "Slack signing secret of [chat.slack]"));
        [discord, slack]
            .into_iter()
            .flatten()
            .filter_map(|(secret, what)| secret.resolve(what).err())
            .collect()
    }
}

/// Where a platform's table is, for errors about the whole table.
struct TableCtx {
    /// `[chat.discord]`, `[chat.slack]`, `[server]`.
    name: &'static str,
    header: Range<usize>,
}

impl Validator<'_> {
    /// `[server]`, when present.
    pub(super) fn server(&mut self, raw: Option<Spanned<RawServer>>) -> Option<ServerConfig> {
        const HINT: &str = "an IP address and a port, like \"127.0.0.1:8080\" (this machine only) or \"0.0.0.0:8080\" (every interface)";
        let table = raw?;
        let header = toml_file::first_line(self.src, table.span());
        let Some(listen) = table.into_inner().listen else {
            self.error(
                header,
                "[server] has no `listen`",
                Some(format!("add `listen = ...`: {HINT}")),
            );
            return None;
        };
        let text = listen.get_ref().trim();
        match text.parse::<SocketAddr>() {
            Ok(addr) => Some(ServerConfig { listen: addr }),
            Err(_) => {
                let hint = match text.strip_prefix("localhost:") {
                    Some(port) if port.parse::<u16>().is_ok() => {
                        format!("write an IP address, not a host name: did you mean \"127.0.0.1:{port}\"?")
                    }
                    _ => HINT.to_string(),
                };
                self.error(
                    listen.span(),
                    format!("`listen` is not a socket address: \"{}\"", listen.get_ref()),
                    Some(hint),
                );
                None
            }
        }
    }

    /// `[chat]`; `server` says whether a valid or invalid `[server]` table is present (its own
    /// errors are reported by [`Validator::server`]).
    pub(super) fn chat(&mut self, raw: RawChat, server: bool) -> ChatConfig {
        ChatConfig {
            discord: raw.discord.and_then(|t| self.discord_chat(t, server)),
            slack: raw.slack.and_then(|t| self.slack_chat(t, server)),
        }
    }

    fn discord_chat(
        &mut self,
        table: Spanned<RawDiscordChat>,
        server: bool,
    ) -> Option<DiscordChat> {
        let ctx = TableCtx {
            name: "[chat.discord]",
            header: toml_file::first_line(self.src, table.span()),
        };
        let raw = table.into_inner();
        let application_id = match &raw.application_id {
            Some(v) => self.snowflake(v, "application_id"),
            None => {
                self.chat_missing(&ctx, "application_id", "the application's id, like `application_id = \"1234567890123456789\"` (Developer Portal → your application → General Information)");
                None
            }
        };
        let guild_id = match &raw.guild_id {
            Some(v) => self.snowflake(v, "guild_id"),
            None => {
                self.chat_missing(&ctx, "guild_id", "the server the commands are registered in, like `guild_id = \"2345678901234567890\"` (Developer Mode → right-click the server → Copy Server ID)");
                None
            }
        };
        let token = self.chat_secret(&ctx, &raw.token, "token", "DISCORD_TOKEN");
        let mode = match &raw.mode {
            None => Some(DiscordMode::Gateway),
            Some(m) => match m.get_ref().trim() {
                "gateway" => Some(DiscordMode::Gateway),
                "http" => Some(DiscordMode::Http),
                other => {
                    let hint = match toml_file::closest(other, ["gateway", "http"]) {
                        Some(w) => format!("did you mean `{w}`?"),
                        None => "`gateway` (cs-pulse connects to Discord) or `http` (Discord POSTs interactions to [server])".to_string(),
                    };
                    self.error(
                        m.span(),
                        format!("unknown Discord mode `{}`", m.get_ref()),
                        Some(hint),
                    );
                    None
                }
            },
        };
        let public_key = raw.public_key.as_ref().and_then(|k| self.public_key(k));
        let mut ok = raw.public_key.is_none() || public_key.is_some();
        if mode == Some(DiscordMode::Http) {
            let mode_span = raw
                .mode
                .as_ref()
                .map_or(ctx.header.clone(), |m| self.key_span(m.span(), "mode"));
            if raw.public_key.is_none() {
                self.error(
                    mode_span.clone(),
                    "`mode = \"http\"` needs `public_key`",
                    Some("add `public_key = \"...\"`: the 64 hex characters of the application's Public Key (Developer Portal → General Information), which signs every interaction Discord sends".to_string()),
                );
                ok = false;
            }
            if !server {
                self.error(
                    mode_span,
                    "`mode = \"http\"` needs a [server] to receive interactions",
                    Some("add `[server]` with `listen = \"0.0.0.0:8080\"` and set the application's Interactions Endpoint URL to https://YOUR-HOST/discord/interactions; or use `mode = \"gateway\"`, which needs no server".to_string()),
                );
                ok = false;
            }
        }
        let api_base = self.api_base(&raw.api_base);
        ok &= raw.api_base.is_none() || api_base.is_some();
        let revenue = self.roles(&raw.revenue_roles, "revenue_roles");
        let act = self.roles(&raw.act_roles, "act_roles");
        match (application_id, guild_id, token, mode, revenue, act) {
            (
                Some(application_id),
                Some(guild_id),
                Some(token),
                Some(mode),
                Some(revenue),
                Some(act),
            ) if ok => Some(DiscordChat {
                application_id,
                guild_id,
                token,
                mode,
                public_key,
                api_base,
                access: Access { revenue, act },
            }),
            _ => None,
        }
    }

    fn slack_chat(&mut self, table: Spanned<RawSlackChat>, server: bool) -> Option<SlackChat> {
        let ctx = TableCtx {
            name: "[chat.slack]",
            header: toml_file::first_line(self.src, table.span()),
        };
        let raw = table.into_inner();
        if !server {
            self.error(
                ctx.header.clone(),
                "[chat.slack] needs a [server] to receive Slack's requests",
                Some("add `[server]` with `listen = \"0.0.0.0:8080\"`, and in the Slack app set the slash command's Request URL to https://YOUR-HOST/slack/commands and Interactivity's to https://YOUR-HOST/slack/interactions".to_string()),
            );
        }
        let signing_secret = self.chat_secret(
            &ctx,
            &raw.signing_secret,
            "signing_secret",
            "SLACK_SIGNING_SECRET",
        );
        let revenue = self.slack_users(&raw.revenue_users, "revenue_users");
        let act = self.slack_users(&raw.act_users, "act_users");
        match (signing_secret, revenue, act) {
            (Some(signing_secret), Some(revenue), Some(act)) if server => Some(SlackChat {
                signing_secret,
                access: Access { revenue, act },
            }),
            _ => None,
        }
    }

    fn chat_missing(&mut self, ctx: &TableCtx, key: &str, what: &str) {
        self.error(
            ctx.header.clone(),
            format!("{} has no `{key}`", ctx.name),
            Some(format!("add `{key}`: {what}")),
        );
    }

    /// A `${ENV}` reference; a pasted secret is refused, like a channel's `token`.
    fn chat_secret(
        &mut self,
        ctx: &TableCtx,
        value: &Option<Spanned<String>>,
        key: &str,
        example_var: &str,
    ) -> Option<Secret> {
        let Some(v) = value else {
            self.chat_missing(
                ctx,
                key,
                &format!(
                    "a reference to an environment variable, like `{key} = \"${{{example_var}}}\"`"
                ),
            );
            return None;
        };
        self.secret_ref(v, key, example_var)
    }

    /// The application's Ed25519 public key: 64 hex characters (32 bytes), kept lowercase.
    fn public_key(&mut self, v: &Spanned<String>) -> Option<String> {
        let text = v.get_ref().trim();
        let bytes: Option<[u8; 32]> = hex::decode(text).ok().and_then(|b| b.try_into().ok());
        let problem = match bytes {
            None if text.len() != 64 => format!(
                "`public_key` must be 64 hex characters, found {}",
                text.chars().count()
            ),
            None => "`public_key` has characters other than 0-9 and a-f".to_string(),
            Some(b) if ed25519_dalek::VerifyingKey::from_bytes(&b).is_err() => {
                "`public_key` is not an Ed25519 public key".to_string()
            }
            Some(_) => return Some(text.to_ascii_lowercase()),
        };
        self.error(
            v.span(),
            problem,
            Some(
                "copy the application's Public Key from the Developer Portal → General Information"
                    .to_string(),
            ),
        );
        None
    }

    /// A list of ids: absent is everyone, `[]` no one; `each` checks one entry (reporting its
    /// error) and gives the id. `None` when an entry is wrong.
    fn audience<T>(
        &mut self,
        list: &Option<Spanned<Vec<Spanned<T>>>>,
        mut each: impl FnMut(&mut Self, &Spanned<T>) -> Option<String>,
    ) -> Option<Audience> {
        let Some(list) = list else {
            return Some(Audience::Everyone);
        };
        let mut ids = BTreeSet::new();
        let mut ok = true;
        for entry in list.get_ref() {
            match each(self, entry) {
                Some(id) => {
                    ids.insert(id);
                }
                None => ok = false,
            }
        }
        ok.then_some(Audience::Only(ids))
    }

    /// A list of Discord role ids.
    fn roles(
        &mut self,
        list: &Option<Spanned<Vec<Spanned<Snowflake>>>>,
        key: &str,
    ) -> Option<Audience> {
        self.audience(list, |v, role| {
            let id = role.get_ref().id();
            if id.is_none() {
                v.error(
                    role.span(),
                    format!("`{key}` holds something that is not a Discord role id"),
                    Some("a role id is a number of up to 20 digits, like \"3456789012345678901\" (Developer Mode → Server Settings → Roles → ⋯ → Copy Role ID); a role's name does not work".to_string()),
                );
            }
            id.map(|id| id.to_string())
        })
    }

    /// A list of Slack member ids (`U…`, `W…`). User groups (`S…`) are refused: a request
    /// names its user, not their groups.
    fn slack_users(
        &mut self,
        list: &Option<Spanned<Vec<Spanned<String>>>>,
        key: &str,
    ) -> Option<Audience> {
        self.audience(list, |v, user| {
            let id = user.get_ref().trim();
            if id.starts_with(['U', 'W']) && is_slack_id(id) {
                return Some(id.to_string());
            }
            let (message, hint) = if id.starts_with('S') && is_slack_id(id) {
                (
                    format!("`{key}` holds `{id}`, a user group: groups are not supported"),
                    "a slash command does not say which groups its user is in; list the members' ids (\"U0123ABCD\")",
                )
            } else {
                (
                    format!("`{key}` holds `{}`, which is not a Slack member id", user.get_ref()),
                    "a member id looks like \"U0123ABCD\" (profile → ⋮ → Copy member ID)",
                )
            };
            v.error(user.span(), message, Some(hint.to_string()));
            None
        })
    }
}

/// A Slack id: a capital letter then capitals and digits (`U0123ABCD`, `W0123ABCD` members,
/// `S0123ABCD` user groups).
fn is_slack_id(s: &str) -> bool {
    s.len() >= 3
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
